#pragma once
/// An image folder laid out as root/<class>/<image>, as torchvision's ImageFolder expects.

#include <filesystem>

#include "ganaug/datasets/image_list.hpp"

namespace ganaug {

/// Whether `path` names an image file ganaug reads: .png, .jpg, .jpeg or .bmp, in any case.
/// Looks at the extension only; the file need not exist.
bool is_image_file(const std::filesystem::path& path);

/// Lists root/<class>/*.{png,jpg,jpeg,bmp}: the classes are the subfolder names in sorted order,
/// and each class's files are sorted by name; other files, nested folders and hidden folders
/// (a name starting with '.') are ignored. Nothing is decoded. Throws ganaug::Error when `root`
/// is missing or not a folder, holds no class subfolders, or a class subfolder holds no image
/// (the message names it); a folder that cannot be listed throws std::filesystem's error.
///
/// Symbolic links (to class folders or images) are followed only when their target lies inside
/// `root`; one that leads outside is refused, naming it, unless `allow_outside_paths`.
ImageList list_image_folder(const std::filesystem::path& root, bool allow_outside_paths = false);

/// Every image file (as is_image_file()) under `root` at any depth, sorted by path, as an
/// unlabeled list (every label -1, `class_names` kept): folder names are not read as classes.
/// Hidden folders are skipped; symbolic links are handled as list_image_folder() does. Throws
/// ganaug::Error when `root` is not a folder or holds no image.
ImageList list_images_under(const std::filesystem::path& root,
                            const std::vector<std::string>& class_names = {},
                            bool allow_outside_paths = false);

}  // namespace ganaug
