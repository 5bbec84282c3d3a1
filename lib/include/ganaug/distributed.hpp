#pragma once
/// Multi-process (data-parallel) GAN training over PyTorch's c10d: rendezvous through a
/// c10d::TCPStore, collectives through ProcessGroupGloo (CPU tensors; CUDA tensors are staged
/// through the CPU, since Debian's LibTorch has no NCCL).

#include <torch/arg.h>
#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace ganaug {

/// Where this process stands in a multi-process job.
struct DistributedOptions {
  /// This process's rank, 0 to world_size - 1.
  TORCH_ARG(int64_t, rank) = 0;
  /// Processes in the job; 1: not distributed.
  TORCH_ARG(int64_t, world_size) = 1;
  /// Host of rank 0's rendezvous store.
  TORCH_ARG(std::string, master_addr) = "127.0.0.1";
  /// Port of rank 0's rendezvous store.
  TORCH_ARG(int64_t, master_port) = 29500;
  /// This process's rank on its node (picks cuda:local_rank).
  TORCH_ARG(int64_t, local_rank) = 0;
  /// How long a collective or the rendezvous waits for the other ranks before failing.
  TORCH_ARG(double, timeout_seconds) = 300;

 public:
  /// Throws ganaug::Error for a rank outside [0, world_size), a port outside 1-65535 or a
  /// non-positive timeout.
  void validate() const;
};

/// The job's layout from the environment, as torchrun sets it (WORLD_SIZE, RANK, LOCAL_RANK,
/// MASTER_ADDR, MASTER_PORT), else as Slurm does (SLURM_NTASKS, SLURM_PROCID, SLURM_LOCALID, the
/// first host of SLURM_JOB_NODELIST, MASTER_PORT or 29500); world size 1 when neither is set.
/// Throws ganaug::Error naming the variable for a malformed value.
DistributedOptions distributed_from_environment();

/// The first host of a Slurm node list ("node[03-05,7],gpu1" -> "node03").
std::string first_slurm_host(const std::string& nodelist);

/// A c10d process group. Every collective blocks until all ranks took part; a rank that died or
/// does not arrive within the timeout makes every other rank throw ganaug::Error naming this
/// rank and `phase` (and, at the rendezvous, the ranks that did not arrive).
class ProcessGroup {
 public:
  /// Rendezvous at master_addr:master_port (rank 0 serves the store). Throws ganaug::Error on
  /// timeout or a connection failure.
  explicit ProcessGroup(const DistributedOptions& options);
  /// Whether this build can join several processes (built with Gloo's headers; LibTorch
  /// wheels ship none, Debian has libgloo-dev). Without it only a world size of 1 is accepted.
  static bool supported();
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int64_t rank() const;
  int64_t world_size() const;

  /// Overwrites every rank's `tensors` (same shapes and types on all ranks) with rank 0's.
  void broadcast(const std::vector<torch::Tensor>& tensors, const std::string& phase);
  /// Replaces the gradient of each of `parameters` by its mean over the ranks (an undefined
  /// gradient counts as zeros). One flat all-reduce for all of them.
  void average_gradients(const std::vector<torch::Tensor>& parameters, const std::string& phase);
  /// Waits for every rank.
  void barrier(const std::string& phase);
  /// Facts about the job a rank runs (its options, data, shapes), as (name, value) pairs in an
  /// order every rank shares.
  using JobFacts = std::vector<std::pair<std::string, std::string>>;
  /// Exchanges every rank's `facts` through the rendezvous store and compares them with rank
  /// 0's, before any collective whose shapes they decide. Throws ganaug::Error on every rank
  /// when a rank's differ, naming the rank and the first fact that differs with both values
  /// ("rank 1 of 2 runs another job than rank 0: its seed is 1 where rank 0's is 0"); every
  /// rank has read and compared before any throws, so that rank 0's store outlives the
  /// comparison.
  void check_same_job(const JobFacts& facts, const std::string& phase);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ganaug
