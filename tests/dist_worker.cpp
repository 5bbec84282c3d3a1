// One rank of a multi-process test run (started by test_distributed.cpp).
// Usage: dist_worker train|resume|grads RANK WORLD PORT TIMEOUT_SECONDS OUT_DIR
//   train: trains the tiny GAN data-parallel for 4 iterations, saves the generator's and the
//          discriminator's weights to OUT_DIR/weights<RANK>.pt
//   resume: the same from OUT_DIR/start.pt (a checkpoint of any world size), to 6 iterations;
//          rank 0 writes its checkpoint to OUT_DIR/gan/checkpoint.pt
//   grads: one backward pass of a seeded discriminator on this rank's share of a fixed batch;
//          saves the local gradients (local<RANK>.pt) and the averaged ones (averaged<RANK>.pt)
//   other-seed, other-data, other-size: train, but rank 1 with seed 12, one image changed, or
//          32x32 images: another job than rank 0's
//   train-hold: train; a process refused at the rendezvous writes OUT_DIR/refused, and rank 0
//          keeps its store up after the job until that file exists (or TIMEOUT passes), so a
//          duplicate rank always meets the store, however fast the job ends
// Exit 0 on success, 1 with the error on stderr.
#include <torch/torch.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include "dist_support.hpp"
#include "ganaug/distributed.hpp"

namespace {

std::vector<torch::Tensor> gradients(torch::nn::Module& module) {
  std::vector<torch::Tensor> out;
  for (const auto& p : module.parameters()) out.push_back(p.grad().clone());
  return out;
}

}  // namespace

int main(int argc, char** argv) try {
  if (argc != 7) {
    std::cerr << "usage: dist_worker train|resume|grads RANK WORLD PORT TIMEOUT OUT_DIR\n";
    return 2;
  }
  const std::string mode = argv[1], out = argv[6];
  const auto options = ganaug::DistributedOptions()
                           .rank(std::stoll(argv[2]))
                           .world_size(std::stoll(argv[3]))
                           .master_port(std::stoll(argv[4]))
                           .timeout_seconds(std::stod(argv[5]));
  const bool hold = mode == "train-hold";
  std::shared_ptr<ganaug::ProcessGroup> group;
  try {
    group = std::make_shared<ganaug::ProcessGroup>(options);
  } catch (const std::exception&) {
    if (hold) std::ofstream(out + "/refused") << "refused\n";
    throw;
  }
  const bool other = mode.rfind("other-", 0) == 0 && options.rank() == 1;
  if (mode == "train" || hold || mode == "resume" || mode.rfind("other-", 0) == 0) {
    auto data = ganaug::testing::dist_blobs();
    const bool resume = mode == "resume";
    auto options = ganaug::testing::dist_gan_options(resume ? 6 : 4);
    if (other && mode == "other-seed") options.seed(12);
    if (other && mode == "other-data") data.images[5].fill_(0.5);
    if (other && mode == "other-size") {
      data.images = torch::nn::functional::interpolate(
          data.images,
          torch::nn::functional::InterpolateFuncOptions().size(std::vector<int64_t>{32, 32}));
      options.image_size(32);
    }
    if (resume) options.out_dir(out + "/gan");
    ganaug::GanTrainer trainer(options, data.class_names);
    if (resume) trainer.resume(out + "/start.pt");
    trainer.distribute(group);
    if (!trainer.train(data)) return 1;
    std::vector<torch::Tensor> weights;
    for (const auto& p : trainer.generator()->parameters()) weights.push_back(p.detach());
    for (const auto& p : trainer.discriminator()->parameters()) weights.push_back(p.detach());
    torch::save(weights, out + "/weights" + argv[2] + ".pt");
  } else if (mode == "grads") {
    auto d = ganaug::testing::dist_discriminator();
    ganaug::testing::dist_discriminator_loss(d, options.rank(), options.world_size()).backward();
    torch::save(gradients(*d), out + "/local" + argv[2] + ".pt");
    group->average_gradients(d->parameters(), "the gradient test");
    torch::save(gradients(*d), out + "/averaged" + argv[2] + ".pt");
  } else {
    std::cerr << "unknown mode " << mode << "\n";
    return 2;
  }
  group->barrier("the end of the test");
  const auto until =
      std::chrono::steady_clock::now() + std::chrono::duration<double>(options.timeout_seconds());
  while (hold && options.rank() == 0 && !std::filesystem::exists(out + "/refused") &&
         std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  return 0;
} catch (const std::exception& e) {
  std::cerr << "dist_worker: " << e.what() << "\n";
  return 1;
}
