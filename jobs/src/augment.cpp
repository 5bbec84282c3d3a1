#include "ganaug/jobs/augment.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <optional>

#include "augment_record.hpp"
#include "augment_report.hpp"
#include "classifier_flags.hpp"
#include "ganaug/classifier.hpp"
#include "ganaug/datasets/csv_manifest.hpp"
#include "ganaug/datasets/image.hpp"
#include "ganaug/file_io.hpp"
#include "ganaug/gan.hpp"
#include "ganaug/job.hpp"
#include "ganaug/metrics.hpp"
#include "ganaug/models.hpp"
#include "ganaug/pipelines/generate.hpp"
#include "ganaug/pipelines/prefetch.hpp"
#include "ganaug/runtime.hpp"
#include "output_dir.hpp"
#include "timing.hpp"

namespace ganaug::jobs {

namespace fs = std::filesystem;

namespace {

using detail::Clock;
using detail::seconds_since;
// Images per class in gan/samples.png and report.html.
constexpr int64_t kReportPerClass = 8;

nlohmann::json to_json(const Metrics& m) {
  return {{"accuracy", m.accuracy},
          {"per_class_accuracy", m.per_class_accuracy},
          {"macro_f1", m.macro_f1},
          {"confusion", m.confusion}};
}

// The GAN's options: the job's, for the data's classes and shape (their run is the job's).
GanOptions gan_options(const AugmentOptions& o, const LabeledDataset& train) {
  return ganaug::detail::without_run(GanOptions(o.gan()))
      .num_classes(train.num_classes())
      .shape(image_shape(train));
}

// The device of this process: a CUDA rank trains on its node's GPU number local_rank, modulo
// the GPUs it sees (with one GPU per task, Slurm's --gpus-per-task sets CUDA_VISIBLE_DEVICES
// and every rank sees cuda:0).
std::string process_device(const AugmentOptions& o) {
  const auto& dist = o.distributed();
  if (dist.world_size() > 1 && o.device() != "cpu" && cuda_available() &&
      o.device().find(':') == std::string::npos) {
    return "cuda:" +
           std::to_string(dist.local_rank() % static_cast<int64_t>(torch::cuda::device_count()));
  }
  return o.device();
}

// The run of this process: the job's seed, threads and output folder, and its device.
RunContext run_context(const AugmentOptions& o) {
  return RunContext()
      .seed(o.seed())
      .device(process_device(o))
      .threads(o.threads())
      .out_dir(o.out_dir());
}

// A rank other than 0 of a multi-process run: loads the same data and trains the GAN together
// with rank 0, which alone writes the output folder.
nlohmann::json train_gan_as_follower(const AugmentOptions& o, const AugmentCallbacks& callbacks) {
  configure_threads(o.threads());
  auto spec = o.data();
  spec.threads(o.threads()).seed(o.seed());
  const auto data = load_train_test(spec, o.test_data(), o.test_fraction());
  GanStage stage;
  const auto checkpoint = fs::path(o.out_dir()) / "gan" / "checkpoint.pt";
  if (o.resume() && fs::exists(checkpoint)) stage.resume_from = checkpoint.string();
  stage.group = std::make_shared<ProcessGroup>(o.distributed());
  stage.hooks.should_stop = callbacks.should_stop;
  stage.on_progress = [&](const GanProgress& p) {
    if (callbacks.on_progress)
      callbacks.on_progress("gan", static_cast<double>(p.iteration),
                            static_cast<double>(p.iterations), "");
  };
  const auto trained = train_gan(run_context(o).in("gan"), data.train, gan_options(o, data.train),
                                 data.train.class_names, stage);
  return {{"rank", o.distributed().rank()},
          {"world_size", o.distributed().world_size()},
          {"role", "trained the GAN with rank 0, which writes the output"},
          {"gan_iterations", trained.iterations}};
}

// Whether `a` and `b` hold the same images, in any order: each set sorted by a fixed random
// projection of its pixels, then compared exactly.
bool same_images_in_any_order(const torch::Tensor& a, const torch::Tensor& b) {
  if (a.sizes() != b.sizes()) return false;
  const auto rows = [](const torch::Tensor& t) { return t.flatten(1).to(torch::kFloat64); };
  const auto ra = rows(a), rb = rows(b);
  const auto projection =
      torch::sin(torch::arange(ra.size(1), torch::kFloat64) * 12.9898 + 78.233) * 43758.5453;
  const auto order = [&](const torch::Tensor& r) {
    return std::get<1>((r * projection.frac()).sum(1).sort());
  };
  return torch::equal(ra.index_select(0, order(ra)), rb.index_select(0, order(rb)));
}

// One augment run on rank 0 (or alone), stage by stage: load, prepare the folder, the baseline
// classifier and the pool's labels, the GAN, generation, retraining and evaluation, the summary.
class AugmentRun {
 public:
  AugmentRun(const AugmentOptions& o, const AugmentCallbacks& c)
      : o_(o), c_(c), run_(run_context(o)), out_(o.out_dir()) {
    stage_.should_stop = c.should_stop;
  }

  nlohmann::json run() {
    const auto total_start = Clock::now();
    // What the flags and the build alone refuse, before anything is read, written or trained.
    if (o_.generator().empty()) check_precision(o_.gan().precision(), select_device(run_.device()));
    // Checked before loading, changed only after: a run that fails to load loses nothing.
    detail::check_output_dir(out_, o_.resume(), o_.force(), "continue the run in it",
                             {{"training data", o_.data().path()},
                              {"test data", o_.test_data()},
                              {"unlabeled pool", o_.unlabeled()},
                              {"generator checkpoint", o_.generator(), true},
                              {"classifier file", detail::classifier_file(o_.classifier()), true}});
    threads_ = configure_threads(run_.threads());
    load();
    check_custom_classifier();
    prepare_output();
    auto generator = o_.joint() ? train_joint() : obtain_generator(pool_for_gan());
    if (!baseline_ && (o_.retrain() || o_.scheme() == Scheme::kArgmax)) train_baseline();
    timings_["baseline_s"] = baseline_seconds_;
    const auto generated = generate_images(generator);
    describe_run(generated);
    const auto start = Clock::now();
    if (o_.retrain()) retrain_and_evaluate();
    if (pool_) summary_["unlabeled"] = pool_summary_;
    timings_["retrain_s"] = seconds_since(start);
    timings_["total_s"] = seconds_since(total_start);
    summary_["timings"] = timings_;
    summary_["out_dir"] = fs::absolute(out_).string();
    // The report first: summary.json, written last, marks a finished run.
    write_report(generator);
    // Names and paths need not be UTF-8 (a Latin-1 folder name): JSON gets U+FFFD for such bytes.
    write_text_atomic(
        out_ / "summary.json",
        summary_.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
    return summary_;
  }

 private:
  void progress(const std::string& stage, double done, double total,
                const std::string& detail = "") const {
    if (c_.on_progress) c_.on_progress(stage, done, total, detail);
  }

  void load() {
    const auto start = Clock::now();
    progress("load", 0, 1, "");
    auto spec = o_.data();
    spec.threads(run_.threads()).seed(run_.seed());
    data_ = load_train_test(spec, o_.test_data(), o_.test_fraction());
    const auto& train = data_.train;
    shape_ = image_shape(train);
    if (!o_.unlabeled().empty()) {
      pool_ = load_unlabeled_pool(UnlabeledSpec()
                                      .path(o_.unlabeled())
                                      .image_size(train.height())
                                      // Stored channels unless --channels asks: a colour
                                      // pool is not turned gray without a word.
                                      .channels(o_.data().channels() != 0 ? train.channels() : 0)
                                      .threads(run_.threads())
                                      .allow_outside_paths(o_.data().allow_outside_paths()),
                                  train.class_names);
      const auto kind = [](int64_t c) { return c == 3 ? "RGB" : "gray"; };
      GANAUG_CHECK(pool_->channels() == train.channels(), "the unlabeled pool ", o_.unlabeled(),
                   " holds ", kind(pool_->channels()), " images and the labeled data ",
                   train.source, " ", kind(train.channels()),
                   " ones: add --channels 1 (or 3) to read both with that many channels");
      // Consistency training on the labeled images themselves adds nothing a pool is for.
      GANAUG_CHECK(!same_images_in_any_order(pool_->images, train.images), "the unlabeled pool ",
                   o_.unlabeled(), " holds exactly the labeled images of ", train.source,
                   ": a pool adds images the labeled set lacks (the same folder "
                   "serves with --per-class, which labels only some of its images)");
    }
    timings_["load_s"] = seconds_since(start);
    progress("load", 1, 1, train.source);
  }

  // Outputs of the baseline classifier: K; a user's network is one network for both
  // classifiers, so for newclass its K + 1 (the extra class has no real image to learn).
  int64_t baseline_outputs() const {
    const int64_t k = data_.train.num_classes();
    return o_.classifier().custom() ? target_width(o_.scheme(), k) : k;
  }

  // A user's classifier that does not fit the data (or the scheme's outputs) is refused before
  // the folder is touched and anything trains.
  void check_custom_classifier() const {
    if (o_.classifier().custom())
      Classifier(classifier_options(target_width(o_.scheme(), data_.train.num_classes())));
  }

  // The trained copies of a user's TorchScript classifier, for Python (torch.jit.load).
  void save_custom_classifier(const Classifier& model, const std::string& name) {
    if (!o_.classifier().custom()) return;
    const auto path = out_ / ("classifier-" + name + ".pt");
    save_classifier_script(model, path.string());
    summary_["classifier"]["file"] = o_.classifier().custom().name;
    summary_["classifier"][name] = path.filename().string();
  }

  void prepare_output() {
    record_ = detail::run_record(o_, data_, pool_ ? &*pool_ : nullptr);
    lock_ = detail::make_output_dir(out_, o_.force());
    remove_temporary_files(out_);  // left by a killed run: a checkpoint or image half written
    detail::settle_run_record(out_, record_, o_.resume());
    range_ = shard_range(o_.n(), o_.generate_batch_size(), o_.shard(), o_.num_shards());
    detail::check_free_space(out_, data_.train, range_.count);
  }

  // How both classifiers train.
  ClassifierOptions classifier_options(int64_t outputs) const {
    return ganaug::detail::without_run(ClassifierOptions(o_.classifier()))
        .num_outputs(outputs)
        .shape(shape_);
  }
  ClassifierHooks classifier_hooks(const std::string& stage) const {
    auto hooks = with_prefetch(
        classic_hooks(o_.classic() ? &o_.classic_options() : nullptr, o_.strong_view()));
    hooks.on_epoch = [this, stage](const ClassifierProgress& p) {
      progress(stage, static_cast<double>(p.epoch), static_cast<double>(p.epochs),
               "loss " + std::to_string(p.loss).substr(0, 6));
    };
    return hooks;
  }
  StageHooks stage_hooks() const {
    auto stage = stage_;
    stage.resume_hint = "; rerun with --resume";
    return stage;
  }

  // The baseline classifier: also the labeller of the argmax scheme and of the pool.
  void train_baseline() {
    const auto start = Clock::now();
    baseline_ = train_stage_classifier(run_, "training the baseline classifier", data_.train,
                                       nullptr, classifier_options(baseline_outputs()),
                                       classifier_hooks("baseline"), stage_hooks());
    baseline_seconds_ = seconds_since(start);
    save_custom_classifier(baseline_, "baseline");
  }

  // The GAN's data: the labeled images and the pool images the baseline is confident of.
  LabeledDataset pool_for_gan() {
    if (!pool_) return data_.train;
    pool_summary_ = {
        {"source", o_.unlabeled()}, {"images", pool_->size()}, {"pseudo", o_.pseudo()}};
    if (!o_.generator().empty()) return data_.train;
    train_baseline();
    const bool dual = o_.pool_teacher() == PoolTeacher::kPseudo;
    if (dual) train_teacher();
    const auto labels = label_pool(dual ? teacher_ : baseline_, pool_->images,
                                   data_.train.num_classes(), o_.pool_confidence());
    const auto kept = confident_pool(*pool_, labels);
    pool_summary_["gan"] = {{"confidence", o_.pool_confidence()},
                            {"kept", kept.size()},
                            {"class_counts", kept.class_counts()},
                            {"labels", std::string(dual ? "the teacher's"
                                                        : "the baseline "
                                                          "classifier's") +
                                           " class, where its probability reaches the "
                                           "confidence"}};
    return gan_training_data(data_.train, *pool_, labels, PoolGan::kTeacher);
  }

  // Dual pseudo training's teacher: the labeled images and the pool by consistency, as the
  // student will train (DIR/teacher.pt; a resumed run reads it back rather than train again).
  void train_teacher() {
    const auto start = Clock::now();
    const auto path = out_ / "teacher.pt";
    const auto options = classifier_options(baseline_outputs()).pool_weight(1.0);
    if (o_.resume() && fs::exists(path)) {
      teacher_ = Classifier(options);
      load_classifier(teacher_, path.string());
    } else {
      teacher_ =
          train_stage_classifier(run_, "training the teacher", concatenate({data_.train, *pool_}),
                                 nullptr, options, classifier_hooks("teacher"), stage_hooks());
      save_classifier(teacher_, path.string());
    }
    save_custom_classifier(teacher_, "teacher");
    timings_["teacher_s"] = seconds_since(start);
  }

  Generator obtain_generator(const LabeledDataset& gan_data) {
    const auto start = Clock::now();
    Generator generator{nullptr};
    if (!o_.generator().empty()) {
      auto loaded = load_generator(o_.generator(), run_.device());
      check_generator_fits(loaded, data_.train, o_.generator());
      generator = loaded.generator;
    } else {
      GanStage stage;
      const auto checkpoint = out_ / "gan" / "checkpoint.pt";
      if (o_.resume() && fs::exists(checkpoint)) stage.resume_from = checkpoint.string();
      if (o_.distributed().world_size() > 1)
        stage.group = std::make_shared<ProcessGroup>(o_.distributed());
      stage.on_progress = [&](const GanProgress& p) {
        progress("gan", static_cast<double>(p.iteration), static_cast<double>(p.iterations),
                 "d " + std::to_string(p.d_loss).substr(0, 5) + " g " +
                     std::to_string(p.g_loss).substr(0, 5));
      };
      stage.hooks = stage_hooks();
      stage.hooks.resume_hint = "; rerun with --resume to continue";
      const auto& train = data_.train;
      auto trained =
          train_gan(run_.in("gan"), gan_data, gan_options(o_, train), train.class_names, stage);
      generator = trained.generator;
      gan_rate_ = trained.images_per_second;
      save_labeled_grid(out_ / "gan" / "samples.png", class_samples(generator), train.class_names,
                        kReportPerClass);
    }
    timings_["gan_train_s"] = seconds_since(start);
    return generator;
  }

  // The classifier and the generator trained together (DIR/joint), resumed from its checkpoint
  // with --resume (a finished one trains no further).
  Generator train_joint() {
    const auto start = Clock::now();
    const auto& train = data_.train;
    const auto& j = *o_.joint();
    const auto& c = o_.classifier();
    const auto options = joint_stage_options(j, c, o_.gan(), train);
    JointStage stage;
    const auto checkpoint = out_ / "joint" / "checkpoint.pt";
    if (o_.resume() && fs::exists(checkpoint)) stage.resume_from = checkpoint.string();
    stage.hooks = stage_hooks();
    stage.views = classic_hooks(o_.classic() ? &o_.classic_options() : nullptr, o_.strong_view());
    stage.on_progress = [&](const JointProgress& p) {
      progress("joint", static_cast<double>(p.iteration), static_cast<double>(p.iterations),
               "c " + std::to_string(p.c_loss).substr(0, 5) + " g " +
                   std::to_string(p.g_loss).substr(0, 5));
    };
    if (pool_) {
      pool_summary_ = {{"source", o_.unlabeled()},
                       {"images", pool_->size()},
                       {"pseudo", false},
                       {"joint", "the joint training's unlabeled images"}};
    }
    auto trained = ganaug::train_joint(run_.in("joint"), train, pool_ ? &*pool_ : nullptr, options,
                                       train.class_names, stage);
    joint_classifier_ = trained.classifier;
    auto generator = trained.generator;
    save_labeled_grid(out_ / "joint" / "samples.png", class_samples(generator), train.class_names,
                      kReportPerClass);
    joint_summary_ = {{"form", to_string(j.form())},
                      {"steps", options.iterations()},
                      {"unsupervised_weight", j.unsupervised_weight()},
                      // Applied only with a pool to train on.
                      {"consistency_weight", pool_ ? j.consistency_weight() : 0.0},
                      {"classifier_ema_decay", options.classifier().ema_decay()}};
    if (j.form() == JointForm::kTriple) joint_summary_["warmup_share"] = j.warmup_share();
    timings_["joint_s"] = seconds_since(start);
    return generator;
  }

  GenerateResult generate_images(Generator& generator) {
    const auto start = Clock::now();
    GeneratePipeline pipeline(generator, o_.scheme(),
                              GenerateOptions(out_.string())
                                  .n(range_.count)
                                  .first(range_.first)
                                  .seed(run_.seed())
                                  .threads(run_.threads())
                                  .batch_size(o_.generate_batch_size()),
                              baseline_);
    pipeline.on_progress = [&](int64_t listed, int64_t total) {
      progress("generate", static_cast<double>(listed), static_cast<double>(total), "");
    };
    pipeline.should_stop = stage_.should_stop;
    const auto generated = pipeline.run();
    configure_threads(run_.threads());
    if (!generated.complete) {
      throw Interrupted("interrupted after " +
                        std::to_string(generated.already_done + generated.written) + " of " +
                        std::to_string(range_.count) + " images; rerun with --resume to finish");
    }
    timings_["generate_s"] = seconds_since(start);
    return generated;
  }

  void describe_run(const GenerateResult& generated) {
    const auto& train = data_.train;
    summary_["scheme"] = detail::scheme_name(o_);
    summary_["num_classes"] = train.num_classes();
    summary_["class_names"] = train.class_names;
    summary_["n"] = o_.n();
    summary_["seed"] = run_.seed();
    if (o_.num_shards() > 1) {
      summary_["shard"] = record_["shard"];
      summary_["shard"]["content"] = detail::shard_content(out_, range_.first, range_.count);
    }
    summary_["train"] = {
        {"source", train.source}, {"images", train.size()}, {"class_counts", train.class_counts()}};
    summary_["test"] = data_.test_description;
    summary_["test"]["images"] = data_.test.size();
    summary_["image_shape"] = {train.channels(), train.height(), train.width()};
    summary_["device"] = select_device(run_.device()).str();
    if (o_.distributed().world_size() > 1)
      summary_["distributed"] = {{"world_size", o_.distributed().world_size()}};
    summary_["threads"] = threads_;
    summary_["prefetch"] = o_.classifier().prefetch_steps(select_device(run_.device()));
    summary_["deterministic"] = deterministic_algorithms();
    // Whether the training steps ran as CUDA graphs, and in what precision the GAN's did.
    summary_["cuda_graphs"] = o_.gan().cuda_graphs() && cuda_graphs_available() &&
                              select_device(run_.device()).is_cuda() &&
                              o_.distributed().world_size() <= 1;
    summary_["gan_precision"] = to_string(o_.gan().precision());
    summary_["gan_images_per_s"] = gan_rate_;
    summary_["classic"] = o_.classic() ? nlohmann::json(o_.classic_options().to_string()) : nullptr;
    const auto tuning = detail::classifier_tuning(o_.classifier());
    if (!tuning.empty()) summary_["classifier_tuning"] = tuning;
    if (o_.joint()) summary_["joint"] = joint_summary_;
    summary_["generated"] = {{"resumed_from", generated.already_done},
                             {"written", generated.written}};
  }

  // The generator's samples of every class, the same as gan/samples.png's.
  torch::Tensor class_samples(Generator& generator) const {
    const auto& train = data_.train;
    return ganaug::generate(generator, sample_grid_classes(train.num_classes(), kReportPerClass),
                            run_.seed() + 1);
  }

  // report.html: the run at a glance, for a person (images embedded).
  void write_report(Generator& generator) const {
    const auto& train = data_.train;
    detail::ReportInputs in;
    in.summary = summary_;
    in.record = record_;
    in.class_names = train.class_names;
    in.generated = class_samples(generator).split(kReportPerClass);
    for (int64_t k = 0; k < train.num_classes(); ++k) {
      const auto index = torch::nonzero(train.labels == k).flatten().slice(0, 0, kReportPerClass);
      in.real.push_back(train.images.index_select(0, index));
    }
    in.joint = o_.joint().has_value();
    in.gan_log = out_ / (in.joint ? "joint" : "gan") / "log.csv";
    write_text_atomic(out_ / "report.html", detail::report_html(in));
  }

  // The images as written (what is trained on is what users get); none with --n 0.
  LabeledDataset read_back_synthetic() const {
    LabeledDataset synthetic;
    if (o_.n() == 0) return synthetic;
    synthetic =
        LoadPipeline(read_csv_manifest(out_ / "labels.csv"), LoadOptions().threads(run_.threads()))
            .run();
    configure_threads(run_.threads());
    synthetic.class_names = data_.train.class_names;
    return synthetic;
  }

  // The classifier trained on the real and the synthetic images (or the joint one).
  Classifier retrained_classifier() {
    if (o_.joint()) return joint_classifier_;
    const auto& train = data_.train;
    const auto synthetic = read_back_synthetic();
    // --pseudo: the pool joins as images labeled -1, trained on by consistency; each epoch's
    // share of pool images over the threshold is kept for the summary.
    auto hooks = classifier_hooks("retrain");
    if (o_.pseudo()) {
      hooks.on_epoch = [this, show = hooks.on_epoch](const ClassifierProgress& p) {
        show(p);
        threshold_share_.push_back(p.pool_confident);
      };
    }
    auto retrained = train_stage_classifier(
        run_, "retraining the classifier", o_.pseudo() ? concatenate({train, *pool_}) : train,
        o_.n() > 0 ? &synthetic : nullptr,
        classifier_options(target_width(o_.scheme(), train.num_classes()))
            .dynamic_argmax(o_.dynamic_argmax())
            .pool_weight(o_.pseudo() ? 1.0 : 0.0),
        hooks, stage_hooks());
    save_custom_classifier(retrained, "retrained");
    return retrained;
  }

  void retrain_and_evaluate() {
    const int64_t k = data_.train.num_classes();
    auto retrained = retrained_classifier();
    const auto base_metrics = evaluate(baseline_, data_.test);
    const auto new_metrics = evaluate(retrained, data_.test);
    summary_["baseline"] = to_json(base_metrics);
    summary_["retrained"] = to_json(new_metrics);
    summary_["gain"] = new_metrics.accuracy - base_metrics.accuracy;
    if (teacher_) {
      const auto teacher_metrics = evaluate(teacher_, data_.test);
      summary_["teacher"] = to_json(teacher_metrics);
      summary_["teacher"]["file"] = "teacher.pt";
      summary_["gan_share"] = new_metrics.accuracy - teacher_metrics.accuracy;
    }
    if (o_.pseudo()) {
      // What the retrained classifier makes of the pool: its confident labels.
      const auto labels = label_pool(retrained, pool_->images, k, o_.classifier().pool_threshold());
      const auto counts = labels.predicted.masked_select(labels.confident).bincount({}, k);
      pool_summary_["retrained"] = {
          {"confidence", o_.classifier().pool_threshold()},
          {"confident", labels.kept()},
          {"class_counts",
           std::vector<int64_t>(counts.data_ptr<int64_t>(), counts.data_ptr<int64_t>() + k)}};
      // Only when not the default, so that default runs write what they wrote before.
      if (o_.strong_view().to_string() != StrongViewOptions().to_string())
        pool_summary_["retrained"]["strong_view"] = o_.strong_view().to_string();
      // Per epoch of consistency training, the share of the step's pool images whose weak view
      // passed the threshold (none when the classifier was not trained in this process).
      if (!threshold_share_.empty())
        pool_summary_["retrained"]["threshold_share"] = threshold_share_;
    }
  }

  const AugmentOptions& o_;
  const AugmentCallbacks& c_;
  const RunContext run_;  // the seed, device, threads and folder of every stage
  const fs::path out_;
  ImageShape shape_;         // the data's, set once loaded
  detail::OutputLock lock_;  // held from prepare_output() to the end of the run
  StageHooks stage_;
  int threads_ = 0;
  TrainTestData data_;
  std::optional<LabeledDataset> pool_;
  nlohmann::json record_, summary_, timings_, pool_summary_, joint_summary_;
  ShardRange range_;
  Classifier baseline_{nullptr}, joint_classifier_{nullptr};
  Classifier teacher_{nullptr};  // dual pseudo training's (PoolTeacher::kPseudo)
  double baseline_seconds_ = 0, gan_rate_ = 0;
  std::vector<double> threshold_share_;  // per epoch of the retrained classifier, with --pseudo
};

}  // namespace

ShardRange shard_range(int64_t n, int64_t batch_size, int64_t shard, int64_t num_shards) {
  GANAUG_CHECK(n >= 0 && batch_size >= 1, "shard_range needs n >= 0 and a positive batch size");
  GANAUG_CHECK(num_shards >= 1 && shard >= 0 && shard < num_shards, "shard ", shard, " of ",
               num_shards, " does not exist: shards are numbered 0 to num_shards - 1");
  const int64_t batches = (n + batch_size - 1) / batch_size;
  const int64_t begin = batches * shard / num_shards, end = batches * (shard + 1) / num_shards;
  ShardRange range;
  range.first = std::min(n, begin * batch_size);
  range.count = std::min(n, end * batch_size) - range.first;
  return range;
}

namespace {

// The settings a joint scheme cannot go with.
void validate_joint(const AugmentOptions& o) {
  const auto labels = o.joint()->form() == JointForm::kKPlus1 ? Scheme::kNewClass : Scheme::kCond;
  GANAUG_CHECK(o.scheme() == labels, "the joint form ", to_string(o.joint()->form()),
               " labels its images ", to_string(labels), ", not ", to_string(o.scheme()));
  GANAUG_CHECK(o.generator().empty(),
               "a joint scheme trains its own generator together with the classifier: drop "
               "--generator");
  GANAUG_CHECK(o.retrain(),
               "a joint scheme's classifier is trained with the generator: drop "
               "--no-retrain (or pick another scheme)");
  GANAUG_CHECK(!o.pseudo(), "a joint scheme trains on the unlabeled pool itself: drop --pseudo");
  GANAUG_CHECK(!o.classifier().pool_one_pass(),
               "a joint scheme's classifier runs its passes over labeled, pool and generated "
               "images apart: drop --pool-one-pass");
  GANAUG_CHECK(o.num_shards() == 1 && o.distributed().world_size() == 1,
               "a joint scheme runs in one process, unsharded");
  GANAUG_CHECK(!o.classifier().custom(),
               "a joint scheme trains the built-in classifier networks, "
               "not ",
               o.classifier().custom().name);
  GANAUG_CHECK(
      o.joint()->unsupervised_weight() >= 0 && std::isfinite(o.joint()->unsupervised_weight()),
      "--joint-weight must be finite and not negative, got ", o.joint()->unsupervised_weight());
  GANAUG_CHECK(o.joint()->warmup_share() >= 0 && o.joint()->warmup_share() < 0.5,
               "--joint-warmup must lie in [0, 0.5), got ", o.joint()->warmup_share());
  GANAUG_CHECK(
      o.joint()->consistency_weight() >= 0 && std::isfinite(o.joint()->consistency_weight()),
      "--joint-consistency must be finite and not negative, got ", o.joint()->consistency_weight());
  GANAUG_CHECK(o.joint()->iterations() >= 1, "--joint-steps must be positive, got ",
               o.joint()->iterations());
}

}  // namespace

void AugmentOptions::validate() const {
  GANAUG_CHECK(n() >= 0, "--n must be 0 or positive, got ", n());
  if (joint()) validate_joint(*this);
  GANAUG_CHECK(!dynamic_argmax() || scheme() == Scheme::kArgmax,
               "dynamic argmax relabels argmax labels: it goes with the argmax scheme only");
  GANAUG_CHECK(num_shards() >= 1, "--num-shards must be positive, got ", num_shards());
  GANAUG_CHECK(shard() >= 0 && shard() < num_shards(), "--shard ", shard(),
               " is not between 0 and --num-shards - 1 (", num_shards() - 1, ")");
  if (num_shards() > 1) {
    GANAUG_CHECK(!generator().empty(),
                 "--num-shards needs --generator: every shard samples the same trained "
                 "generator (train it once with augment --n 0 --no-retrain, or take a run's "
                 "gan/checkpoint.pt)");
    GANAUG_CHECK(!retrain(),
                 "--num-shards needs --no-retrain: join the shards with augment-merge first");
  }
  distributed().validate();
  if (distributed().world_size() > 1) {
    GANAUG_CHECK(generator().empty(), "several processes (WORLD_SIZE ", distributed().world_size(),
                 ") only train a GAN; with --generator run one process, or shard the "
                 "generation with --num-shards");
    GANAUG_CHECK(gan().batch_size() % distributed().world_size() == 0, "the GAN's batch of ",
                 gan().batch_size(), " images (--gan-batch) does not split evenly over ",
                 distributed().world_size(), " processes");
  }
  GANAUG_CHECK(gan().batch_size() >= 1, "--gan-batch must be positive, got ", gan().batch_size());
  GANAUG_CHECK(gan().g_lr() > 0 && gan().d_lr() > 0 && std::isfinite(gan().g_lr()) &&
                   std::isfinite(gan().d_lr()),
               "--gan-lr must be positive, got ", gan().g_lr());
  GANAUG_CHECK(gan().iterations() >= 0, "--gan-steps must be 0 or positive, got ",
               gan().iterations());
  GANAUG_CHECK(gan().checkpoint_every() >= 0,
               "--checkpoint-every must be positive (or 0: only at the end), got ",
               gan().checkpoint_every());
  gan().validate_settings();
  GANAUG_CHECK(generate_batch_size() >= 1, "--generate-batch must be positive, got ",
               generate_batch_size());
  classifier().validate(detail::classifier_flag_name);
  GANAUG_CHECK(test_fraction() > 0 && test_fraction() < 1,
               "the test fraction must lie strictly between 0 and 1, got ", test_fraction());
  GANAUG_CHECK(!(resume() && force()), "--resume and --force contradict each other; pick one");
  GANAUG_CHECK(threads() >= 0 && threads() <= hardware_threads(), "--threads ", threads(),
               " is not between 0 (all) and the ", hardware_threads(),
               " CPUs this process may use");
  GANAUG_CHECK(!out_dir().empty(), "--out must name a folder");
  const int64_t size = data().image_size();
  GANAUG_CHECK(size <= 0 || !generator().empty() || gan_image_size_supported(size), "--image-size ",
               size, " is not supported by the GAN: use ", kGanImageSizes);
  GANAUG_CHECK(pool_confidence() > 0 && pool_confidence() <= 1,
               "--pool-confidence must lie in (0, 1], got ", pool_confidence());
  GANAUG_CHECK(!pseudo() || !unlabeled().empty(), "--pseudo needs an unlabeled pool (--unlabeled)");
  if (pool_teacher() == PoolTeacher::kPseudo) {
    GANAUG_CHECK(pseudo(),
                 "--teacher trains the student as the teacher, on the pool by consistency: add "
                 "--pseudo (and --unlabeled DIR)");
    GANAUG_CHECK(generator().empty(),
                 "--teacher labels the pool a GAN trains on: drop --generator (or --teacher)");
    GANAUG_CHECK(retrain(), "--teacher's share is measured by retraining: drop --no-retrain");
  }
  strong_view().validate();
  GANAUG_CHECK(unlabeled().empty() || distributed().world_size() == 1,
               "--unlabeled runs in one process (WORLD_SIZE ", distributed().world_size(),
               "): the pool's pseudo-labels come from a classifier trained by one process");
  select_device(device());
}

nlohmann::json run_augment(const AugmentOptions& o, const AugmentCallbacks& callbacks) {
  o.validate();
  if (o.distributed().world_size() > 1 && o.distributed().rank() != 0)
    return train_gan_as_follower(o, callbacks);
  return AugmentRun(o, callbacks).run();
}

}  // namespace ganaug::jobs
