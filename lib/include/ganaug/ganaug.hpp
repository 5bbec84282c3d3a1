#pragma once
/// ganaug's core in one include: datasets in memory, the conditional GAN, pseudo-label schemes,
/// the classifier, metrics and the one-call synthesize(). Needs LibTorch only. The readers
/// (OpenCV) are in <ganaug/datasets/...>, the oneTBB pipelines in <ganaug/pipelines/...>.
/// docs/api.md gives the overview.

#include "ganaug/choices.hpp"
#include "ganaug/classifier.hpp"
#include "ganaug/dataset.hpp"
#include "ganaug/diffaugment.hpp"
#include "ganaug/error.hpp"
#include "ganaug/file_io.hpp"
#include "ganaug/gan.hpp"
#include "ganaug/job.hpp"
#include "ganaug/joint.hpp"
#include "ganaug/joint_losses.hpp"
#include "ganaug/metrics.hpp"
#include "ganaug/models.hpp"
#include "ganaug/run_context.hpp"
#include "ganaug/runtime.hpp"
#include "ganaug/schemes.hpp"
#include "ganaug/spectral_norm.hpp"
#include "ganaug/synthesize.hpp"
#include "ganaug/version.hpp"
