// augment-bench's summary of its cells (paired intervals) and its Markdown report.

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <iomanip>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

#include "experiment_outputs.hpp"
#include "ganaug/jobs/experiment.hpp"
#include "ganaug/metrics.hpp"

namespace ganaug::jobs {

namespace {

using detail::fixed;

// "+1.23 [+0.40, +2.06]" in points, bold when the interval excludes zero.
std::string gain_text(const nlohmann::json& g) {
  if (g.is_null()) return "";
  const double mean = g["mean"].get<double>() * 100;
  std::ostringstream s;
  s << std::showpos << std::fixed << std::setprecision(2) << mean;
  if (g["n"].get<int64_t>() < 2) return s.str() + " (1 seed)";
  const double low = g["low"].get<double>() * 100, high = g["high"].get<double>() * 100;
  s << " [" << low << ", " << high << "]";
  return low > 0 || high < 0 ? "**" + s.str() + "**" : s.str();
}

nlohmann::json interval_json(const Interval& i) {
  auto number = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); };
  return {{"mean", i.mean},
          {"stddev", i.stddev},
          {"low", number(i.low)},
          {"high", number(i.high)},
          {"n", i.n}};
}

// The first table of a grid with an unlabeled pool or a joint column: what the pool gives
// without a GAN, what a GAN adds on top of it, what a GAN adds from the labeled images only,
// and what a GAN trained as the classifier gives over classic and classic+pseudo (paired
// intervals).
std::string pool_questions(const nlohmann::json& summary, const std::string& ds) {
  std::ostringstream md;
  md << "\n### The unlabeled pool and the GAN\n\n"
     << "| question | size | pool | compared | gain (points, 95%) |\n"
     << "| --- | --- | --- | --- | --- |\n";
  const auto line = [&](const char* question, const nlohmann::json& row, const std::string& what,
                        const nlohmann::json& gain) {
    if (gain.is_null()) return;
    const int64_t pool = row.value("unlabeled", int64_t{0});
    const double mult = row["multiple"].get<double>();
    md << "| " << question << " | " << row["size"] << " | "
       << (pool > 0 ? std::to_string(pool) : "-") << " | `" << row["scheme"].get<std::string>()
       << "`" << (mult > 0 ? " x" + fixed(mult, 1) : "") << " vs `" << what << "` | "
       << gain_text(gain) << " |\n";
  };
  for (const auto& row : summary) {
    if (row["dataset"] != ds) continue;
    const auto scheme = ExperimentScheme::parse(row["scheme"].get<std::string>());
    const int64_t pool = row.value("unlabeled", int64_t{0});
    if (scheme.joint) {
      line(pool > 0 ? "the GAN as the classifier, with the pool" : "the GAN as the classifier", row,
           "classic", row["gain_vs_classic"]);
      if (pool > 0)
        line("the GAN as the classifier over the pool without a GAN", row, "classic+pseudo",
             row.value("gain_vs_classic_pseudo", nlohmann::json()));
      continue;
    }
    if (!scheme.classic) continue;
    const auto over_pseudo = row.value("gain_vs_classic_pseudo", nlohmann::json());
    if (scheme.self_training) {
      line("self-training: the teacher's confident pool labels as labeled images", row,
           scheme.pseudo ? "classic+pseudo" : "classic",
           scheme.pseudo ? over_pseudo : row["gain_vs_classic"]);
    } else if (scheme.pseudo && !scheme.synthetic) {
      line("the pool without a GAN", row, "classic", row["gain_vs_classic"]);
    } else if (scheme.pseudo) {
      line("a GAN on top of the pool", row, "classic+pseudo", over_pseudo);
      // The control: the same labels as images of the pool rather than of a GAN.
      line("a GAN on top of the pool over self-training", row, "classic+pseudo+self",
           row.value("gain_vs_self", nlohmann::json()));
    } else if (scheme.synthetic && pool > 0) {
      line("a GAN trained with the pool", row, "classic", row["gain_vs_classic"]);
    } else if (scheme.synthetic) {
      line("a GAN from the labeled images only", row, "classic", row["gain_vs_classic"]);
    }
  }
  return md.str();
}

// The classical settings compared on the validation split for each size of `ds`, each with its
// mean accuracy and its paired gain over the first setting; the chosen one marked.
std::string classic_choice_table(const nlohmann::json& choice, const std::string& ds) {
  // size -> setting (in first-seen order) -> seed -> accuracy
  std::map<int64_t, std::vector<std::string>> order;
  std::map<int64_t, std::map<std::string, std::map<uint64_t, double>>> accuracy;
  for (const auto& c : choice["cells"]) {
    if (c["dataset"] != ds) continue;
    const auto size = c["size"].get<int64_t>();
    const auto spec = c["classic"].get<std::string>();
    auto& specs = order[size];
    if (std::find(specs.begin(), specs.end(), spec) == specs.end()) specs.push_back(spec);
    accuracy[size][spec][c["seed"].get<uint64_t>()] = c["accuracy"].get<double>();
  }
  if (order.empty()) return "";
  std::ostringstream md;
  md << "\n### The classical setting, chosen on the validation split\n\n"
     << "Each setting trains the `classic` classifier of every seed's labeled subset and is "
        "scored on the validation split, never on the test set; the best mean becomes `classic` "
        "in every column of that size.\n\n"
     << "| size | setting | seeds | validation accuracy % | gain vs the first setting | chosen |\n"
     << "| --- | --- | --- | --- | --- | --- |\n";
  for (const auto& [size, specs] : order) {
    const auto chosen_key = ds + "-n" + std::to_string(size);
    const auto chosen = choice["chosen"].contains(chosen_key)
                            ? choice["chosen"][chosen_key]["classic"].get<std::string>()
                            : std::string();
    const auto& first = accuracy[size][specs.front()];
    for (const auto& spec : specs) {
      std::vector<double> values, differences;
      for (const auto& [seed, value] : accuracy[size][spec]) {
        values.push_back(value);
        const auto it = first.find(seed);
        if (it != first.end()) differences.push_back(value - it->second);
      }
      const auto a = mean_interval_95(values);
      md << "| " << size << " | `" << spec << "` | " << values.size() << " | "
         << fixed(100 * a.mean, 2) << " ± " << fixed(100 * a.stddev, 2) << " | "
         << (spec == specs.front() || differences.empty()
                 ? std::string("-")
                 : gain_text(interval_json(mean_interval_95(differences))))
         << " | " << (spec == chosen ? "**yes**" : "") << " |\n";
    }
  }
  return md.str();
}

}  // namespace

nlohmann::json summarize_cells(const nlohmann::json& cells) {
  // (dataset, size, scheme, multiple, pool) -> seed -> accuracy, in first-seen order.
  using Group = std::tuple<std::string, int64_t, std::string, double, int64_t>;
  std::vector<Group> order;
  std::map<Group, std::map<uint64_t, double>> accuracy;
  std::map<Group, double> seconds;  // summed over the seeds
  for (const auto& c : cells) {
    Group g{c["dataset"].get<std::string>(), c["size"].get<int64_t>(),
            c["scheme"].get<std::string>(), c["multiple"].get<double>(),
            c.value("unlabeled", int64_t{0})};
    if (!accuracy.count(g)) order.push_back(g);
    accuracy[g][c["seed"].get<uint64_t>()] = c["accuracy"].get<double>();
    seconds[g] += c.value("seconds", 0.0);
  }
  auto paired_gain = [&](const Group& g, const std::string& baseline,
                         int64_t pool) -> nlohmann::json {
    const Group b{std::get<0>(g), std::get<1>(g), baseline, 0.0, pool};
    if (b == g || !accuracy.count(b)) return nullptr;
    std::vector<double> differences;
    for (const auto& [seed, value] : accuracy[g]) {
      auto it = accuracy[b].find(seed);
      if (it != accuracy[b].end()) differences.push_back(value - it->second);
    }
    if (differences.empty()) return nullptr;
    return interval_json(mean_interval_95(differences));
  };
  std::stable_sort(order.begin(), order.end(), [](const Group& a, const Group& b) {
    return std::tie(std::get<0>(a), std::get<1>(a)) < std::tie(std::get<0>(b), std::get<1>(b));
  });
  auto rows = nlohmann::json::array();
  for (const auto& g : order) {
    std::vector<double> values;
    for (const auto& [seed, value] : accuracy[g]) values.push_back(value);
    const int64_t pool = std::get<4>(g);
    rows.push_back({{"dataset", std::get<0>(g)},
                    {"size", std::get<1>(g)},
                    {"scheme", std::get<2>(g)},
                    {"multiple", std::get<3>(g)},
                    {"unlabeled", pool},
                    {"accuracy", interval_json(mean_interval_95(values))},
                    {"seconds", seconds[g] / static_cast<double>(values.size())},
                    {"gain_vs_none", paired_gain(g, "none", 0)},
                    {"gain_vs_classic", paired_gain(g, "classic", 0)},
                    {"gain_vs_classic_pseudo",
                     pool > 0 ? paired_gain(g, "classic+pseudo", pool) : nlohmann::json()}});
    // Self-training's figures where a grid has that column (the control of a GAN on a pool).
    const auto self = pool > 0 ? paired_gain(g, "classic+pseudo+self", pool) : nlohmann::json();
    if (!self.is_null()) rows.back()["gain_vs_self"] = self;
  }
  return rows;
}

namespace {

// `text` as Markdown shows it literally: Markdown's punctuation escaped with a backslash, HTML's
// as entities (a data set's name is the user's folder name).
std::string markdown_text(const std::string& text) {
  std::string out;
  for (const char c : text) {
    if (c == '<') {
      out += "&lt;";
    } else if (c == '>') {
      out += "&gt;";
    } else if (c == '&') {
      out += "&amp;";
    } else if (c == '\n' || c == '\r') {
      out += ' ';
    } else {
      if (std::strchr("\\`*_{}[]()#+-.!|~", c) != nullptr && c != '\0') out += '\\';
      out += c;
    }
  }
  return out;
}

// `path` as a Markdown link's destination: every byte but letters, digits and -._~/
// percent-encoded.
std::string markdown_url(const std::string& path) {
  std::ostringstream out;
  for (const char c : path) {
    const auto byte = static_cast<unsigned char>(c);
    if (std::isalnum(byte) || (c != '\0' && std::strchr("-._~/", c) != nullptr))
      out << c;
    else
      out << '%' << std::uppercase << std::hex << std::setw(2) << std::setfill('0')
          << static_cast<int>(byte) << std::dec;
  }
  return out.str();
}

// The classifier's training fields set away from their defaults and the pool's consistency
// settings (when the grid has a pool), as "; ..." clauses of the settings sentence.
std::string tuning_and_pool(const nlohmann::json& s, const nlohmann::json& grid) {
  std::ostringstream out;
  if (s.contains("classifier_tuning")) {
    out << "; classifier training changed from its defaults:";
    for (const auto& [key, value] : s["classifier_tuning"].items())
      out << " " << key << " " << (value.is_string() ? value.get<std::string>() : value.dump());
  }
  bool pool = false;
  for (const auto& size : grid.value("unlabeled", nlohmann::json::array())) pool |= size != 0;
  if (pool) {
    out << "; consistency training on the pool: weight " << s.value("pool_weight", 1.0)
        << ", threshold " << s.value("pool_threshold", 0.95) << ", " << s.value("pool_ratio", 1.0)
        << " pool images per labeled image, strong view "
        << s.value("strong_view", std::string("classic"))
        << "; the pool's labels for the GANs and self-training from the "
        << (s.value("pool_teacher", std::string("classic")) == "pseudo"
                ? "`classic+pseudo` classifier (dual pseudo training)"
                : "`classic` classifier")
        << " where it is at least " << s.value("pool_confidence", 0.9) << " sure";
  }
  return out.str();
}

// The report's opening: the machine, the settings and how to read the tables.
void write_header(std::ostringstream& md, const nlohmann::json& r) {
  const auto& s = r["settings"];
  const auto& grid = r["grid"];
  md << "# augment-bench report\n\n"
     << "Machine: " << r["machine"]["cpu"].get<std::string>() << ", "
     << r["machine"]["hardware_threads"] << " hardware threads, device "
     << r["machine"]["device"].get<std::string>() << ". Started " << r["started"].get<std::string>()
     << ", updated " << r.value("updated", std::string("-")) << ".\n\n"
     << "Settings: GAN " << s["gan_iterations"] << " iterations at batch 64; classifier "
     << s["classifier_epochs"] << " epochs over the real images ("
     << s.value("lr_schedule", std::string("constant")) << " learning rate), synthetic share "
     << s["synthetic_share"] << " of each batch, synthetic loss weight " << s["synthetic_weight"]
     << (s.value("min_confidence", 0.0) > 0
             ? std::string(", cond and argmax images kept when the ") +
                   (s.value("pool_teacher", std::string("classic")) == "pseudo"
                        ? "pool teacher (in pool columns; else the real-data classifier)"
                        : "real-data classifier") +
                   " gives their label at least " + fixed(s["min_confidence"].get<double>(), 2)
             : std::string())
     << (s.value("classic_choices", nlohmann::json::array()).empty()
             ? "; classical augmentation `" + s["classic"].get<std::string>() + "`"
             : std::string("; classical augmentation chosen per size on the validation split "
                           "(below)"))
     << tuning_and_pool(s, grid)
     << (s.contains("joint")
             ? "; joint columns " + s["joint"]["steps"].dump() + " steps, unsupervised weight " +
                   s["joint"]["unsupervised_weight"].dump() + ", triple-joint warm-up " +
                   s["joint"]["warmup_share"].dump() +
                   (s["joint"].contains("consistency_weight")
                        ? ", consistency weight " + s["joint"]["consistency_weight"].dump()
                        : std::string())
             : std::string())
     << "; seeds " << s["first_seed"] << ".."
     << s["first_seed"].get<int64_t>() + grid["seeds"].get<int64_t>() - 1
     << " (each seed picks the labeled subset, the GAN and the classifiers' initialisation).\n\n"
     << "Accuracy is the mean over seeds ± one standard deviation; time per cell is the mean "
        "wall time of its training, on this machine. Gains are in points, "
        "paired by seed (same labeled subset), with a 95% Student-t interval; **bold** where the "
        "interval excludes zero. Synthetic counts are a multiple of the labeled count.\n";
}

// A dataset's test set and reference classifier.
void write_reference(std::ostringstream& md, const nlohmann::json& s, const std::string& ds,
                     const nlohmann::json& ref) {
  md << "\n## " << markdown_text(ds) << "\n\n"
     << (s.value("evaluate_on", std::string("test")) == "validation" ? "Scored on: " : "Test set: ")
     << ref["test"].value("source", std::string("?")) << " (" << ref["test"].value("images", 0)
     << " images). Classifier network: " << ref.value("network", std::string("?"))
     << ". Reference classifier (all " << ref["images"] << " training images, " << ref["epochs"]
     << " epochs): " << fixed(100 * ref["accuracy"].get<double>(), 2)
     << "% test accuracy; it extracts the features of the Fréchet classifier distance (FCD) "
        "and judges class faithfulness. FCD of real training vs real test images at "
     << ref["fcd_samples"]
     << " samples (the floor): " << fixed(ref["fcd_real_vs_real"].get<double>(), 2) << ".\n";
}

// What the pseudo cells' pools did: the chart, and each group's last epoch.
void write_pool_targets(std::ostringstream& md, const nlohmann::json& cells,
                        const std::string& ds) {
  const auto traces = detail::pool_traces(cells);
  const auto found = traces.find(ds);
  if (found == traces.end()) return;
  md << "\n### The pool's targets\n\n"
     << "Per epoch of consistency training, the share of the step's pool images whose weak view "
        "passed the threshold (they become targets), and how many of those targets are the "
        "image's true class (the pool is drawn from labeled data; training never reads its "
        "labels). Means over seeds, last epoch:\n\n"
     << "| cells | over the threshold | targets right |\n| --- | --- | --- |\n";
  const auto last = [](const nlohmann::json& means) {
    for (auto it = means.rbegin(); it != means.rend(); ++it)
      if (!it->is_null()) return fixed(100 * it->get<double>(), 1) + "%";
    return std::string("-");
  };
  for (const auto& [name, trace] : found->second)
    md << "| " << markdown_text(name) << " | " << last(trace.at("threshold_share")) << " | "
       << last(trace.at("label_accuracy")) << " |\n";
  md << "\n![pool targets](" << markdown_url("pool-" + ds + ".png") << ")\n";
}

// One table per labeled size: every scheme's accuracy and gains.
void write_gain_tables(std::ostringstream& md, const nlohmann::json& summary, const std::string& ds,
                       bool pools) {
  int64_t current_size = -1;
  for (const auto& row : summary) {
    if (row["dataset"] != ds) continue;
    const int64_t size = row["size"].get<int64_t>();
    if (size != current_size) {
      current_size = size;
      md << "\n### " << size << " labeled images per class\n\n"
         << "| scheme | " << (pools ? "pool | " : "")
         << "synthetic | seeds | accuracy % | time per cell (s) | gain vs none | gain vs classic |"
         << (pools ? " gain vs classic+pseudo |" : "") << "\n"
         << "| --- | --- | --- | --- | --- | --- | --- |" << (pools ? " --- | --- |" : "") << "\n";
    }
    const double mult = row["multiple"].get<double>();
    const int64_t pool = row.value("unlabeled", int64_t{0});
    const auto& a = row["accuracy"];
    md << "| " << row["scheme"].get<std::string>() << " | ";
    if (pools) md << (pool > 0 ? std::to_string(pool) : "-") << " | ";
    md << (mult > 0 ? "x" + fixed(mult, 1) : "-") << " | " << a["n"] << " | "
       << fixed(100 * a["mean"].get<double>(), 2) << " ± "
       << fixed(100 * a["stddev"].get<double>(), 2) << " | " << fixed(row.value("seconds", 0.0), 0)
       << " | " << gain_text(row["gain_vs_none"]) << " | " << gain_text(row["gain_vs_classic"])
       << " |";
    if (pools)
      md << " " << gain_text(row.value("gain_vs_classic_pseudo", nlohmann::json())) << " |";
    md << "\n";
  }
}

// Plain words: which schemes help or hurt, by the intervals.
void write_verdicts(std::ostringstream& md, const nlohmann::json& summary, const std::string& ds) {
  md << "\n";
  bool against_none = false;  // only a grid with the `none` column compares with it
  for (const auto& row : summary) {
    if (row["dataset"] != ds || row["gain_vs_none"].is_null()) continue;
    against_none = true;
    const auto& g = row["gain_vs_none"];
    if (g["low"].is_null()) continue;
    const bool helps = g["low"].get<double>() > 0, hurts = g["high"].get<double>() < 0;
    if (helps || hurts) {
      md << "- " << row["size"] << "/class: `" << row["scheme"].get<std::string>() << "` "
         << (helps ? "helps" : "hurts") << " (" << gain_text(g) << " points vs none).\n";
    }
  }
  if (against_none)
    md << "- Every other cell: no difference from `none` that the seeds run can tell apart "
          "from noise (cells with one seed have no interval).\n";
}

// The dataset's chart and its generators' measurements.
void write_generators(std::ostringstream& md, const nlohmann::json& r, const std::string& ds) {
  md << "\n![accuracy](" << markdown_url("accuracy-" + ds + ".png") << ")\n\n"
     << "### Generators\n\n"
     << "| size | seed | FCD | class faithfulness | diversity | CAS | GAN s | GAN images/s | "
        "samples |\n"
     << "| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n";
  for (const auto& g : r["generators"]) {
    if (g["dataset"] != ds) continue;
    md << "| " << g["size"] << " | " << g["seed"] << " | " << fixed(g["fcd"].get<double>(), 2)
       << " | " << fixed(100 * g["class_faithfulness"].get<double>(), 1) << "% | "
       << (g.contains("diversity") ? fixed(g["diversity"].get<double>(), 2) : std::string("-"))
       << " | " << fixed(100 * g["cas"].get<double>(), 2) << "% | "
       << fixed(g["gan_seconds"].get<double>(), 0) << " | "
       << fixed(g["gan_images_per_s"].get<double>(), 0) << " | [grid]("
       << g["samples"].get<std::string>() << ") |\n";
  }
  md << "\nFCD: " << r["settings"]["metric_samples"]
     << " generated vs as many real test images (fewer when the test set is smaller), "
        "reference-classifier features. Class faithfulness: share of generated images the "
        "reference classifier assigns to the class they were generated for. Diversity: the "
        "samples' within-class per-pixel spread over the real test images' (1 = as varied as "
        "real data, near 0 = one image per class). CAS "
        "(classification accuracy score): test accuracy of a classifier trained only on as "
        "many synthetic images as there are labeled real ones, with their conditioned "
        "classes; compare with `none`. GAN time is 0 for a generator reused from an earlier "
        "run.\n";
}

}  // namespace

// Which arm the gains "vs classic" are over: its classical setting per size, its epochs, and
// whether the setting was chosen on the validation split or simply given.
std::string supervised_reference(const nlohmann::json& r, const std::string& ds) {
  std::map<int64_t, std::set<std::string>> settings;  // size -> classical settings of its cells
  for (const auto& c : r["cells"])
    if (c["dataset"] == ds && c["scheme"] == "classic" && c.contains("classic"))
      settings[c["size"].get<int64_t>()].insert(c["classic"].get<std::string>());
  if (settings.empty()) return "";
  std::ostringstream md;
  md << "\nThe supervised reference (`classic`, the gains' \"vs classic\"): ";
  bool first = true;
  for (const auto& [size, specs] : settings) {
    md << (first ? "" : "; ") << size << " per class ";
    for (const auto& spec : specs) md << "`" << spec << "`";
    first = false;
  }
  const bool chosen = !r["settings"].value("classic_choices", nlohmann::json::array()).empty();
  md << ", " << r["settings"]["classifier_epochs"]
     << " epochs, as every arm but the joint ones (which train for their steps); "
     << (chosen ? "the classical setting chosen on the validation split (above).\n"
                : "the classical setting given, not chosen on a validation split, so perhaps not "
                  "the strongest supervised arm: with `--validation` and no `--classic`, the bench "
                  "chooses among default, erase=0.5 and randaugment=1 (`--classic-choices` "
                  "names others).\n");
  return md.str();
}

// The filtered cells that trained on fewer synthetic images than asked: the judge found too few
// confident ones within its rounds of drawing.
void write_short_cells(std::ostringstream& md, const nlohmann::json& cells, const std::string& ds) {
  std::vector<std::string> shorts;
  for (const auto& c : cells) {
    const int64_t asked = c.value("synthetic_asked", int64_t{0});
    const int64_t got = c.value("synthetic_images", int64_t{0});
    if (c["dataset"] != ds || asked <= got) continue;
    shorts.push_back("n" + c["size"].dump() + " seed " + c["seed"].dump() + " `" +
                     c["scheme"].get<std::string>() + "` x" +
                     fixed(c["multiple"].get<double>(), 1) +
                     (c.value("unlabeled", int64_t{0}) > 0
                          ? " pool " + std::to_string(c["unlabeled"].get<int64_t>())
                          : std::string()) +
                     ": " + std::to_string(got) + " of " + std::to_string(asked));
  }
  if (shorts.empty()) return;
  md << "\n**Fewer synthetic images than asked** (`--min-confidence`: too few generated images "
        "reached the threshold in the rounds drawn; these cells trained on fewer): ";
  for (size_t i = 0; i < shorts.size(); ++i) md << (i ? "; " : "") << shorts[i];
  md << ".\n";
}

std::string experiment_report(const nlohmann::json& r) {
  std::ostringstream md;
  write_header(md, r);
  for (const auto& [ds, ref] : r["references"].items()) {
    write_reference(md, r["settings"], ds, ref);
    if (r.contains("classic_choice")) md << classic_choice_table(r["classic_choice"], ds);
    const std::string dataset = ds;  // a structured binding cannot be captured in C++17
    const bool pools =
        std::any_of(r["summary"].begin(), r["summary"].end(), [&dataset](const auto& row) {
          return row["dataset"] == dataset && row.value("unlabeled", int64_t{0}) > 0;
        });
    const bool joint = std::any_of(
        r["summary"].begin(), r["summary"].end(), [&dataset](const nlohmann::json& row) {
          return row["dataset"] == dataset &&
                 ExperimentScheme::parse(row["scheme"].get<std::string>()).joint.has_value();
        });
    md << supervised_reference(r, ds);
    if (pools || joint) md << pool_questions(r["summary"], ds);
    write_gain_tables(md, r["summary"], ds, pools);
    write_verdicts(md, r["summary"], ds);
    write_pool_targets(md, r["cells"], ds);
    write_short_cells(md, r["cells"], ds);
    write_generators(md, r, ds);
  }
  return md.str();
}

}  // namespace ganaug::jobs
