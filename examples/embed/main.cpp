// embed: ganaug inside another program. Loads an image folder (root/<class>/*.png), asks ganaug
// for synthetic images with one call, writes them as a grid and prints the class counts.
//
//   embed IMAGE_FOLDER GRID.png [N] [GAN_ITERATIONS]

#include <ganaug/datasets/image.hpp>
#include <ganaug/ganaug.hpp>
#include <ganaug/pipelines/load.hpp>
#include <iostream>
#include <string>

int main(int argc, char** argv) try {
  if (argc < 3 || argc > 5) {
    std::cerr << "usage: embed IMAGE_FOLDER GRID.png [N] [GAN_ITERATIONS]\n";
    return 2;
  }
  const std::string folder = argv[1], grid = argv[2];
  const int64_t n = argc > 3 ? std::stoll(argv[3]) : 200;
  const int64_t iterations = argc > 4 ? std::stoll(argv[4]) : 500;
  std::cout << "ganaug " << ganaug::version() << "\n";

  // The library leaves LibTorch's thread count to the program (Debian's LibTorch starts with 1).
  ganaug::configure_threads(0);

  // Any format the tools read: an image folder here, resized to the GAN's 16..64 range.
  const auto data = ganaug::load_dataset(ganaug::DatasetSpec()
                                             .path(folder)
                                             .format(ganaug::DatasetFormat::kFolder)
                                             .image_size(16)
                                             .channels(1));
  std::cout << "loaded " << data.size() << " images of " << data.num_classes() << " classes\n";

  const auto options = ganaug::SynthesizeOptions()
                           .scheme(ganaug::Scheme::kCond)
                           .n(n)
                           .gan(ganaug::GanOptions(1).iterations(iterations));
  // The run: its seed, device (CUDA when there is one), CPU threads and output folder (none).
  const auto run = ganaug::RunContext().seed(1).device("auto");
  ganaug::SynthesizeCallbacks callbacks;
  callbacks.on_progress = [](const ganaug::SynthesisProgress& p) {
    if (p.done == p.total) std::cout << p.stage << " done (" << p.total << ")\n";
  };
  const auto synthetic = ganaug::synthesize(run, data, options, callbacks);

  ganaug::save_image_grid(grid, synthetic.images, 10);
  const auto counts = synthetic.dataset().class_counts();
  std::cout << "wrote " << synthetic.size() << " synthetic images to " << grid << "\n";
  for (size_t k = 0; k < counts.size(); ++k)
    std::cout << "  " << synthetic.class_names[k] << ": " << counts[k] << "\n";
  return 0;
} catch (const std::exception& e) {
  std::cerr << "embed: " << e.what() << "\n";
  return 1;
}
