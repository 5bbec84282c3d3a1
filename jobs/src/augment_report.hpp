#pragma once
// Private to the augment job: report.html, the one self-contained page a person looks at after
// a run (images embedded, no file or network fetched).

#include <torch/types.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace ganaug::jobs::detail {

/// What the report shows of one augment run.
struct ReportInputs {
  /// summary.json as written (scheme, data, metrics when retrained, timings, ...).
  nlohmann::json summary;
  /// run.json: the settings that made the folder.
  nlohmann::json record;
  /// One name per class.
  std::vector<std::string> class_names;
  /// Per class, some of its real images (N x C x H x W in [-1, 1]; may be empty) and the
  /// generator's samples of it.
  std::vector<torch::Tensor> real, generated;
  /// The GAN's training log (gan/log.csv: iteration,d_loss,g_loss,...), or the joint
  /// training's (joint/log.csv: iteration,c_loss,labeled_loss,g_loss,...) when `joint`; a
  /// missing file (a given generator) says so in the report.
  std::filesystem::path gan_log;
  bool joint = false;
};

/// The report as one HTML page: per class, real images beside generated ones; the GAN's loss
/// curves; the baseline's and the retrained classifier's accuracy per class and confusion
/// matrices; the gain with its one-seed caveat; what was run. A small script counts the
/// images that loaded (<html data-images="loaded of total">) and marks any that did not.
std::string report_html(const ReportInputs& inputs);

}  // namespace ganaug::jobs::detail
