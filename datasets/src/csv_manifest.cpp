#include "ganaug/datasets/csv_manifest.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <tuple>

#include "class_names.hpp"
#include "ganaug/error.hpp"
#include "ganaug/file_io.hpp"

namespace ganaug {

namespace {

constexpr int64_t kMaxClasses = 100000;  // as the GAN (check_model_shape)

std::string trim(const std::string& text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "";
  const auto last = text.find_last_not_of(" \t\r\n");
  return text.substr(first, last - first + 1);
}

std::optional<int64_t> parse_integer(const std::string& text) {
  int64_t value = 0;
  const char* end = text.data() + text.size();
  const auto result = std::from_chars(text.data(), end, value);
  if (text.empty() || result.ec != std::errc() || result.ptr != end) return std::nullopt;
  return value;
}

std::optional<float> parse_float(const std::string& text) {
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  const float value = std::strtof(text.c_str(), &end);
  if (errno != 0 || end != text.c_str() + text.size()) return std::nullopt;
  return value;
}

std::string list_names(const std::vector<std::string>& names) {
  std::string out;
  for (size_t k = 0; k < names.size() && k < 12; ++k) out += (k ? ", " : "") + names[k];
  if (names.size() > 12) out += ", ...";
  return out;
}

struct Row {
  size_t line = 0;
  std::vector<std::string> fields;
};

// Where a row's image is: relative paths are taken from the manifest's folder.
std::filesystem::path resolve_image(const std::filesystem::path& manifest, const Row& row,
                                    bool allow_outside_paths) {
  const std::string location = manifest.string() + ":" + std::to_string(row.line);
  GANAUG_CHECK(!row.fields[0].empty(), location, ": the image path is empty");
  std::filesystem::path path = row.fields[0];
  if (path.is_relative()) path = manifest.parent_path() / path;
  std::error_code error;
  GANAUG_CHECK(std::filesystem::is_regular_file(path, error), location, ": image '", row.fields[0],
               "' does not exist (looked for ", path.string(), ")");
  const auto folder =
      manifest.parent_path().empty() ? std::filesystem::path(".") : manifest.parent_path();
  GANAUG_CHECK(allow_outside_paths || path_within(path, folder), location, ": image '",
               row.fields[0], "' lies outside the manifest's folder ", folder.string(),
               "; pass --allow-outside-paths to read it");
  return path;
}

// Rows of `path,label`.
ImageList read_plain(const std::filesystem::path& manifest, const std::vector<Row>& rows,
                     const std::vector<std::string>& given_names, bool allow_outside_paths) {
  for (const auto& row : rows) {
    GANAUG_CHECK(row.fields.size() == 2, manifest.string(), ":", row.line,
                 ": expected 2 columns (path,label) but found ", row.fields.size());
    GANAUG_CHECK(!row.fields[1].empty(), manifest.string(), ":", row.line, ": the label is empty");
  }
  ImageList list;
  list.source = manifest.string();
  list.class_names = given_names;
  if (list.class_names.empty()) {
    for (const auto& row : rows) {
      const auto value = parse_integer(row.fields[1]);
      GANAUG_CHECK(!value || *value >= 0, manifest.string(), ":", row.line, ": label ",
                   row.fields[1], " is negative; a label is a class name or a class index 0..K-1");
    }
    const bool all_indices = std::all_of(rows.begin(), rows.end(), [](const Row& row) {
      return parse_integer(row.fields[1]).has_value();
    });
    if (all_indices) {
      int64_t highest = -1;
      size_t line = 0;
      for (const auto& row : rows) {
        const int64_t value = *parse_integer(row.fields[1]);
        if (value > highest) std::tie(highest, line) = std::make_pair(value, row.line);
      }
      // Every number up to the highest is a class: a typo such as 99999999999 would otherwise
      // build that many class names. (Classes without images are refused where data trains.)
      GANAUG_CHECK(highest < kMaxClasses, manifest.string(), ":", line, ": label ", highest,
                   " would make ", static_cast<uint64_t>(highest) + 1,  // INT64_MAX: no overflow
                   " classes; ganaug supports up to ", kMaxClasses,
                   " (labels number the classes 0..K-1)");
      list.class_names = detail::numbered_class_names(highest + 1);
    } else {
      std::set<std::string> distinct;
      for (const auto& row : rows) distinct.insert(row.fields[1]);
      list.class_names.assign(distinct.begin(), distinct.end());
    }
  }
  std::map<std::string, int64_t> index_of;
  for (size_t k = 0; k < list.class_names.size(); ++k) {
    index_of.emplace(list.class_names[k], static_cast<int64_t>(k));
  }
  const auto num_classes = static_cast<int64_t>(list.class_names.size());
  for (const auto& row : rows) {
    int64_t label = -1;
    if (auto found = index_of.find(row.fields[1]); found != index_of.end()) {
      label = found->second;
    } else if (auto value = parse_integer(row.fields[1]);
               value && *value >= 0 && *value < num_classes) {
      label = *value;
    }
    GANAUG_CHECK(label >= 0, manifest.string(), ":", row.line, ": unknown label '", row.fields[1],
                 "'; the classes are ", list_names(list.class_names));
    list.records.push_back({resolve_image(manifest, row, allow_outside_paths), label, {}});
  }
  return list;
}

// Rows of `file,cond,label,p0,...,p{K-1}`, as the augment tool writes them.
ImageList read_soft(const std::filesystem::path& manifest, const Row& header,
                    const std::vector<Row>& rows, const std::vector<std::string>& given_names,
                    bool allow_outside_paths) {
  const size_t num_targets = header.fields.size() - 3;
  for (size_t k = 0; k < num_targets; ++k) {
    GANAUG_CHECK(header.fields[3 + k] == "p" + std::to_string(k), manifest.string(), ":",
                 header.line, ": expected column p", k, " after file,cond,label but found '",
                 header.fields[3 + k], "'");
  }
  GANAUG_CHECK(given_names.empty() || num_targets == 0 || num_targets == given_names.size(),
               manifest.string(), ": ", num_targets, " soft-target columns but ",
               given_names.size(), " class names");
  ImageList list;
  list.source = manifest.string();
  int64_t highest = -1;
  for (const auto& row : rows) {
    const std::string location = manifest.string() + ":" + std::to_string(row.line);
    GANAUG_CHECK(row.fields.size() == header.fields.size(), location, ": expected ",
                 header.fields.size(), " columns (file,cond,label,p0..) but found ",
                 row.fields.size());
    GANAUG_CHECK(parse_integer(row.fields[1]).has_value(), location, ": cond '", row.fields[1],
                 "' is not an integer");
    const auto label = parse_integer(row.fields[2]);
    GANAUG_CHECK(label.has_value() && *label >= -1, location, ": label '", row.fields[2],
                 "' is not a class index or -1");
    ImageRecord record{resolve_image(manifest, row, allow_outside_paths), *label, {}};
    for (size_t k = 0; k < num_targets; ++k) {
      const auto probability = parse_float(row.fields[3 + k]);
      GANAUG_CHECK(probability.has_value() && *probability >= 0.0f && *probability <= 1.0f,
                   location, ": p", k, " '", row.fields[3 + k], "' is not a probability");
      record.target.push_back(*probability);
    }
    GANAUG_CHECK(num_targets > 0 || *label >= 0, location,
                 ": label -1 needs soft-target columns p0.. in the manifest");
    highest = std::max(highest, *label);
    list.records.push_back(std::move(record));
  }
  if (!given_names.empty()) {
    list.class_names = given_names;
  } else {
    GANAUG_CHECK(num_targets > 0 || highest < kMaxClasses, manifest.string(), ": label ", highest,
                 " would make ", highest + 1, " classes; ganaug supports up to ", kMaxClasses,
                 " (labels number the classes 0..K-1)");
    list.class_names = detail::numbered_class_names(
        num_targets > 0 ? static_cast<int64_t>(num_targets) : highest + 1);
  }
  for (size_t i = 0; i < list.records.size(); ++i) {
    GANAUG_CHECK(list.records[i].label < static_cast<int64_t>(list.class_names.size()),
                 manifest.string(), ":", rows[i].line, ": unknown label '", list.records[i].label,
                 "'; there are ", list.class_names.size(), " classes");
  }
  return list;
}

}  // namespace

std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> fields;
  std::string field;
  bool quoted = false;       // inside double quotes
  bool whole_quote = false;  // the field opened with a quote: its spaces are its own
  const auto finish = [&] {
    fields.push_back(whole_quote ? field : trim(field));
    field.clear();
    whole_quote = false;
  };
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c == '"') {
      quoted = true;
      if (trim(field).empty()) {
        field.clear();
        whole_quote = true;
      }
    } else if (c == ',') {
      finish();
    } else if (!(whole_quote && (c == ' ' || c == '\t' || c == '\r'))) {
      field += c;
    }
  }
  finish();
  return fields;
}

std::string csv_field(const std::string& text) {
  const bool plain = text.find_first_of(",\"\r\n") == std::string::npos &&
                     (text.empty() || (text.front() != ' ' && text.back() != ' '));
  if (plain) return text;
  std::string quoted = "\"";
  for (const char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

namespace {

// The non-blank rows of a manifest, split into fields, with their line numbers.
std::vector<Row> read_rows(const std::filesystem::path& manifest) {
  std::error_code error;
  GANAUG_CHECK(std::filesystem::is_regular_file(manifest, error),
               "manifest not found: ", manifest.string());
  std::ifstream in(manifest);
  GANAUG_CHECK(in.good(), "cannot open ", manifest.string(), " for reading");
  std::vector<Row> rows;
  std::string line;
  for (size_t number = 1; std::getline(in, line); ++number) {
    if (trim(line).empty()) continue;
    rows.push_back({number, split_csv_line(line)});
  }
  GANAUG_CHECK(!rows.empty(), "manifest ", manifest.string(), " holds no rows");
  return rows;
}

}  // namespace

ImageList read_csv_manifest(const std::filesystem::path& manifest,
                            const std::vector<std::string>& class_names, bool allow_outside_paths) {
  auto rows = read_rows(manifest);

  const auto& first = rows.front().fields;
  if (first.size() >= 3 && first[0] == "file" && first[1] == "cond" && first[2] == "label") {
    const Row header = rows.front();
    rows.erase(rows.begin());
    GANAUG_CHECK(!rows.empty(), "manifest ", manifest.string(), " holds a header but no rows");
    return read_soft(manifest, header, rows, class_names, allow_outside_paths);
  }
  if (first.size() >= 2 && first[1] == "label") rows.erase(rows.begin());
  GANAUG_CHECK(!rows.empty(), "manifest ", manifest.string(), " holds a header but no rows");
  return read_plain(manifest, rows, class_names, allow_outside_paths);
}

ImageList read_image_paths(const std::filesystem::path& manifest,
                           const std::vector<std::string>& class_names, bool allow_outside_paths) {
  auto rows = read_rows(manifest);
  // A header names the column; without one the paths are the first column.
  size_t column = 0;
  const auto& first = rows.front().fields;
  const auto named = std::find_if(first.begin(), first.end(),
                                  [](const std::string& f) { return f == "path" || f == "file"; });
  if (named != first.end()) {
    column = static_cast<size_t>(named - first.begin());
    rows.erase(rows.begin());
    GANAUG_CHECK(!rows.empty(), "manifest ", manifest.string(), " holds a header but no rows");
  }
  ImageList list;
  list.class_names = class_names;
  list.source = manifest.string();
  for (const auto& row : rows) {
    GANAUG_CHECK(row.fields.size() > column, manifest.string(), ":", row.line,
                 ": no path in column ", column + 1);
    const Row path_only{row.line, {row.fields[column]}};
    list.records.push_back({resolve_image(manifest, path_only, allow_outside_paths), -1, {}});
  }
  return list;
}

}  // namespace ganaug
