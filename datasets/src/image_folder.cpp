#include "ganaug/datasets/image_folder.hpp"

#include <algorithm>
#include <cctype>

#include "ganaug/error.hpp"
#include "ganaug/file_io.hpp"

namespace ganaug {

namespace {

// A symbolic link is followed only when it stays inside the folder the user named.
void check_link(const std::filesystem::directory_entry& entry, const std::filesystem::path& root,
                bool allow_outside_paths) {
  if (allow_outside_paths || !entry.is_symlink()) return;
  std::error_code error;
  const auto target = std::filesystem::canonical(entry.path(), error);
  GANAUG_CHECK(!error && path_within(target, root), "image folder ", root.string(), ": ",
               entry.path().string(), " is a symbolic link to ",
               error ? std::string("a missing target") : target.string(),
               " outside the folder; pass --allow-outside-paths to follow it");
}

}  // namespace

bool is_image_file(const std::filesystem::path& path) {
  std::string extension = path.extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return extension == ".png" || extension == ".jpg" || extension == ".jpeg" || extension == ".bmp";
}

namespace {

// Adds the images under `dir` (at any depth, hidden folders skipped) to `count`, and the first
// one's path to `first` when it is the first counted.
void count_nested_images(const std::filesystem::path& dir, int64_t* count,
                         std::filesystem::path* first) {
  namespace fs = std::filesystem;
  std::error_code error;
  for (auto it = fs::recursive_directory_iterator(dir, error);
       !error && it != fs::recursive_directory_iterator(); it.increment(error)) {
    const std::string name = it->path().filename().string();
    if (it->is_directory() && !name.empty() && name[0] == '.') {
      it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file() && is_image_file(it->path())) {
      if ((*count)++ == 0) *first = it->path();
    }
  }
}

}  // namespace

ImageList list_image_folder(const std::filesystem::path& root, bool allow_outside_paths) {
  std::error_code error;
  GANAUG_CHECK(std::filesystem::exists(root, error), "image folder not found: ", root.string());
  GANAUG_CHECK(std::filesystem::is_directory(root, error),
               "expected an image folder (root/<class>/<image>) but found a file: ", root.string());

  std::vector<std::filesystem::path> class_dirs;
  int64_t stray = 0;  // images beside the class folders or below them, which would be ignored
  std::filesystem::path first_stray;
  for (const auto& entry : std::filesystem::directory_iterator(root)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && is_image_file(entry.path()) && stray++ == 0)
      first_stray = entry.path();
    // Hidden folders (.git, .ipynb_checkpoints) are never classes.
    if (entry.is_directory() && !name.empty() && name[0] != '.') {
      check_link(entry, root, allow_outside_paths);
      class_dirs.push_back(entry.path());
    }
  }
  GANAUG_CHECK(!class_dirs.empty(), "no class subfolders in ", root.string(),
               ": expected one folder per class holding its images (root/<class>/<image>.png)");
  std::sort(class_dirs.begin(), class_dirs.end());
  // One pass over each class folder: its images, and the folders below it (whose images an
  // image folder does not read, so they are refused rather than ignored).
  std::vector<std::vector<std::filesystem::path>> files(class_dirs.size());
  for (size_t k = 0; k < class_dirs.size(); ++k) {
    for (const auto& entry : std::filesystem::directory_iterator(class_dirs[k])) {
      const std::string name = entry.path().filename().string();
      if (entry.is_regular_file() && is_image_file(entry.path())) {
        check_link(entry, root, allow_outside_paths);
        files[k].push_back(entry.path());
      } else if (entry.is_directory() && !name.empty() && name[0] != '.') {
        count_nested_images(entry.path(), &stray, &first_stray);
      }
    }
  }
  GANAUG_CHECK(stray == 0, "image folder ", root.string(), " holds ", stray, " image",
               stray == 1 ? "" : "s", " outside its class folders (first: ", first_stray.string(),
               "): images go directly in one folder per class (root/<class>/<image>); move ",
               stray == 1 ? "it" : "them", " there or out of the folder");

  ImageList list;
  list.source = root.string();
  for (size_t k = 0; k < class_dirs.size(); ++k) {
    const std::string class_name = class_dirs[k].filename().string();
    GANAUG_CHECK(!files[k].empty(), "class '", class_name,
                 "' holds no .png, .jpg, .jpeg or .bmp image: ", class_dirs[k].string());
    std::sort(files[k].begin(), files[k].end());
    list.class_names.push_back(class_name);
    for (auto& file : files[k])
      list.records.push_back({std::move(file), static_cast<int64_t>(k), {}});
  }
  return list;
}

ImageList list_images_under(const std::filesystem::path& root,
                            const std::vector<std::string>& class_names, bool allow_outside_paths) {
  std::error_code error;
  GANAUG_CHECK(std::filesystem::is_directory(root, error),
               "image folder not found: ", root.string());
  namespace fs = std::filesystem;
  std::vector<fs::path> files;
  const auto options = allow_outside_paths ? fs::directory_options::follow_directory_symlink
                                           : fs::directory_options::none;
  for (auto it = fs::recursive_directory_iterator(root, options);
       it != fs::recursive_directory_iterator(); ++it) {
    const std::string name = it->path().filename().string();
    if (it->is_directory() && !name.empty() && name[0] == '.') {
      it.disable_recursion_pending();  // hidden folders (.git) hold no data
      continue;
    }
    if (it->is_regular_file() && is_image_file(it->path())) {
      check_link(*it, root, allow_outside_paths);
      files.push_back(it->path());
    }
  }
  GANAUG_CHECK(!files.empty(), "no .png, .jpg, .jpeg or .bmp image under ", root.string());
  std::sort(files.begin(), files.end());
  ImageList list;
  list.class_names = class_names;
  list.source = root.string();
  for (auto& file : files) list.records.push_back({std::move(file), -1, {}});
  return list;
}

}  // namespace ganaug
