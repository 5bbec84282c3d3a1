// Built with USE_C10D_GLOO and GANAUG_WITH_GLOO (set for this file by lib/CMakeLists.txt when
// Gloo's headers are there): LibTorch declares ProcessGroupGloo only under USE_C10D_GLOO.
#include "ganaug/distributed.hpp"

#include <torch/torch.h>
#ifdef GANAUG_WITH_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <thread>

#include "ganaug/error.hpp"

namespace ganaug {

namespace {

int64_t environment_number(const char* name, int64_t fallback) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text == '\0') return fallback;
  char* end = nullptr;
  const long long value = std::strtoll(text, &end, 10);
  GANAUG_CHECK(end != text && *end == '\0' && value >= 0, "environment variable ", name, "='", text,
               "' is not a whole number");
  return value;
}

std::string environment_text(const char* name, const std::string& fallback) {
  const char* text = std::getenv(name);
  return text == nullptr || *text == '\0' ? fallback : text;
}

}  // namespace

void DistributedOptions::validate() const {
  GANAUG_CHECK(world_size() >= 1 && rank() >= 0 && rank() < world_size(), "rank ", rank(),
               " does not exist in a world of ", world_size(), " processes");
  GANAUG_CHECK(master_port() >= 1 && master_port() <= 65535, "master port ", master_port(),
               " is not a port number (1-65535)");
  GANAUG_CHECK(timeout_seconds() > 0, "the distributed timeout must be positive, got ",
               timeout_seconds());
}

std::string first_slurm_host(const std::string& nodelist) {
  // "a[01-03,7],b" -> "a01"; "a,b" -> "a".
  const auto comma = nodelist.find(',');
  const auto bracket = nodelist.find('[');
  if (bracket == std::string::npos || (comma != std::string::npos && comma < bracket))
    return nodelist.substr(0, comma);
  const auto close = nodelist.find(']', bracket);
  std::string range = nodelist.substr(bracket + 1, close - bracket - 1);
  range = range.substr(0, range.find(','));
  return nodelist.substr(0, bracket) + range.substr(0, range.find('-'));
}

namespace {
// A launcher sets a process's place in pairs (world size and rank): half a pair would make a
// process train alone, or write its output as rank 0. Refused, naming what is missing.
void check_pair(const char* world, const char* rank, const char* launcher) {
  const bool has_world = std::getenv(world) != nullptr, has_rank = std::getenv(rank) != nullptr;
  GANAUG_CHECK(!has_world || has_rank || environment_number(world, 1) <= 1, world, " is ",
               std::getenv(world), " but ", rank, " is not set: start each process with ", launcher,
               " (which sets both), or unset ", world, " to train in one process");
  GANAUG_CHECK(!has_rank || has_world || environment_number(rank, 0) == 0, rank, " is ",
               std::getenv(rank), " but ", world, " is not set: start each process with ", launcher,
               " (which sets both), or unset ", rank, " to train in one process");
}
}  // namespace

DistributedOptions distributed_from_environment() {
  check_pair("WORLD_SIZE", "RANK", "torchrun");
  if (std::getenv("WORLD_SIZE") == nullptr) check_pair("SLURM_NTASKS", "SLURM_PROCID", "srun");
  DistributedOptions options;
  options.master_port(environment_number("MASTER_PORT", 29500));
  if (std::getenv("WORLD_SIZE") != nullptr) {  // torchrun
    options.world_size(environment_number("WORLD_SIZE", 1))
        .rank(environment_number("RANK", 0))
        .local_rank(environment_number("LOCAL_RANK", 0))
        .master_addr(environment_text("MASTER_ADDR", "127.0.0.1"));
  } else if (std::getenv("SLURM_NTASKS") != nullptr && std::getenv("SLURM_PROCID") != nullptr) {
    options.world_size(environment_number("SLURM_NTASKS", 1))
        .rank(environment_number("SLURM_PROCID", 0))
        .local_rank(environment_number("SLURM_LOCALID", 0))
        .master_addr(environment_text(
            "MASTER_ADDR", first_slurm_host(environment_text("SLURM_JOB_NODELIST", "127.0.0.1"))));
  }
  GANAUG_CHECK(options.world_size() >= 1, "WORLD_SIZE must be at least 1");
  options.validate();
  return options;
}

bool ProcessGroup::supported() {
#ifdef GANAUG_WITH_GLOO
  return true;
#else
  return false;
#endif
}

#ifdef GANAUG_WITH_GLOO
struct ProcessGroup::Impl {
  DistributedOptions options;
  c10::intrusive_ptr<c10d::TCPStore> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group;
  int64_t job_checks = 0;  // check_same_job rounds so far (each uses keys of its own)

  std::string where(const std::string& phase) const {
    return "rank " + std::to_string(options.rank()) + " of " +
           std::to_string(options.world_size()) + ", " + phase;
  }

  void wait(const c10::intrusive_ptr<c10d::Work>& work, const std::string& phase) {
    try {
      work->wait();
    } catch (const std::exception& e) {
      GANAUG_FAIL(where(phase), ": ", first_line(e),
                  "; another rank died, stopped or did not answer within the timeout (",
                  options.timeout_seconds(), " s)");
    }
  }
};

ProcessGroup::ProcessGroup(const DistributedOptions& options) : impl_(std::make_unique<Impl>()) {
  options.validate();
  auto& s = *impl_;
  s.options = options;
  const auto timeout =
      std::chrono::milliseconds(static_cast<int64_t>(std::ceil(options.timeout_seconds() * 1000)));
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  c10d::TCPStoreOptions store_options;
  store_options.port = static_cast<std::uint16_t>(options.master_port());
  store_options.isServer = options.rank() == 0;
  store_options.numWorkers = static_cast<std::size_t>(options.world_size());
  store_options.waitWorkers = false;
  store_options.timeout = timeout;
  const std::string at = options.master_addr() + ":" + std::to_string(options.master_port());
  try {
    s.store = c10::make_intrusive<c10d::TCPStore>(options.master_addr(), store_options);
  } catch (const std::exception& e) {
    GANAUG_FAIL(s.where("rendezvous"), ": cannot reach rank 0's store at ", at, " (", first_line(e),
                ")");
  }
  // Every rank says it arrived (a second process of one rank is refused at once: the group
  // would otherwise hang in Gloo's connect phase); rank 0 names the ranks that did not.
  const auto arrivals = s.store->add("ganaug/arrived/" + std::to_string(options.rank()), 1);
  GANAUG_CHECK(arrivals == 1, s.where("rendezvous"), ": another process already joined as rank ",
               options.rank(), " at ", at,
               "; every process needs a rank of its own (RANK, or Slurm's SLURM_PROCID)");
  while (true) {
    std::vector<std::string> missing;
    for (int64_t r = 0; r < options.world_size(); ++r) {
      if (!s.store->check({"ganaug/arrived/" + std::to_string(r)}))
        missing.push_back(std::to_string(r));
    }
    if (missing.empty()) break;
    if (std::chrono::steady_clock::now() > deadline) {
      std::string list;
      for (const auto& r : missing) list += (list.empty() ? "" : ", ") + r;
      GANAUG_FAIL(s.where("rendezvous"), ": rank", missing.size() > 1 ? "s " : " ", list,
                  " did not arrive at ", at, " within ", options.timeout_seconds(),
                  " s (--dist-timeout)");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  try {
    auto group_options = c10d::ProcessGroupGloo::Options::create(timeout);
    group_options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    s.group = c10::make_intrusive<c10d::ProcessGroupGloo>(s.store, static_cast<int>(options.rank()),
                                                          static_cast<int>(options.world_size()),
                                                          group_options);
  } catch (const std::exception& e) {
    GANAUG_FAIL(s.where("connecting the process group"), ": ", first_line(e));
  }
}

ProcessGroup::~ProcessGroup() = default;

int64_t ProcessGroup::rank() const { return impl_->options.rank(); }
int64_t ProcessGroup::world_size() const { return impl_->options.world_size(); }

void ProcessGroup::broadcast(const std::vector<torch::Tensor>& tensors, const std::string& phase) {
  if (tensors.empty()) return;
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> flat{torch::cat([&] {
    std::vector<torch::Tensor> parts;
    for (const auto& t : tensors)
      parts.push_back(t.detach().reshape({-1}).to(torch::kCPU, torch::kFloat64));
    return parts;
  }())};
  impl_->wait(impl_->group->broadcast(flat), phase);
  int64_t offset = 0;
  for (const auto& t : tensors) {
    const int64_t n = t.numel();
    t.detach().copy_(flat[0].slice(0, offset, offset + n).view(t.sizes()));
    offset += n;
  }
}

void ProcessGroup::average_gradients(const std::vector<torch::Tensor>& parameters,
                                     const std::string& phase) {
  if (parameters.empty()) return;
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> parts;
  for (const auto& p : parameters) {
    parts.push_back(p.grad().defined() ? p.grad().reshape({-1}).to(torch::kCPU, torch::kFloat32)
                                       : torch::zeros({p.numel()}));
  }
  std::vector<torch::Tensor> flat{torch::cat(parts)};
  impl_->wait(impl_->group->allreduce(flat), phase);
  flat[0].div_(static_cast<double>(world_size()));
  int64_t offset = 0;
  for (const auto& p : parameters) {
    const int64_t n = p.numel();
    auto averaged = flat[0].slice(0, offset, offset + n).view(p.sizes()).to(p.options());
    if (p.grad().defined()) {
      p.mutable_grad().copy_(averaged);
    } else {
      p.mutable_grad() = averaged.clone();
    }
    offset += n;
  }
}

void ProcessGroup::barrier(const std::string& phase) {
  impl_->wait(impl_->group->barrier(), phase);
}

namespace {

std::string encode_facts(const ProcessGroup::JobFacts& facts) {
  std::string text;
  for (const auto& [name, value] : facts) text += name + '\t' + value + '\n';
  return text;
}

ProcessGroup::JobFacts decode_facts(const std::vector<uint8_t>& bytes) {
  ProcessGroup::JobFacts facts;
  std::string line;
  for (const char c : std::string(bytes.begin(), bytes.end())) {
    if (c != '\n') {
      line += c;
      continue;
    }
    const auto tab = line.find('\t');
    facts.emplace_back(line.substr(0, tab), tab == std::string::npos ? "" : line.substr(tab + 1));
    line.clear();
  }
  return facts;
}

// The first fact in which `other` (rank `r`) differs from rank 0's, as a sentence; "" if none.
std::string first_difference(const ProcessGroup::JobFacts& zero,
                             const ProcessGroup::JobFacts& other, int64_t r, int64_t world) {
  const std::string who = "rank " + std::to_string(r) + " of " + std::to_string(world);
  for (size_t i = 0; i < std::max(zero.size(), other.size()); ++i) {
    if (i < zero.size() && i < other.size() && zero[i] == other[i]) continue;
    if (i >= zero.size() || i >= other.size() || zero[i].first != other[i].first)
      return who +
             " runs another job than rank 0: it describes its job otherwise (another "
             "ganaug version?)";
    return who + " runs another job than rank 0: its " + zero[i].first + " is " + other[i].second +
           " where rank 0's is " + zero[i].second +
           "; start every rank with the same options and data";
  }
  return "";
}

}  // namespace

void ProcessGroup::check_same_job(const JobFacts& facts, const std::string& phase) {
  auto& s = *impl_;
  const int64_t round = s.job_checks++;
  const auto key = [&](const char* kind, int64_t r) {
    return "ganaug/" + std::string(kind) + "/" + std::to_string(round) + "/" + std::to_string(r);
  };
  const auto mine = encode_facts(facts);
  std::string difference;
  try {
    s.store->set(key("facts", rank()), std::vector<uint8_t>(mine.begin(), mine.end()));
    const auto zero = decode_facts(s.store->get(key("facts", 0)));
    for (int64_t r = 1; r < world_size() && difference.empty(); ++r) {
      if (rank() != 0 && r != rank()) continue;  // a rank answers for itself, rank 0 for all
      const auto other = r == rank() ? facts : decode_facts(s.store->get(key("facts", r)));
      difference = first_difference(zero, other, r, world_size());
    }
    s.store->set(key("compared", rank()), std::vector<uint8_t>{1});
    for (int64_t r = 0; r < world_size(); ++r) s.store->wait({key("compared", r)});
  } catch (const std::exception& e) {
    GANAUG_FAIL(s.where(phase), ": ", first_line(e),
                "; another rank died, stopped or did not answer within the timeout (",
                s.options.timeout_seconds(), " s)");
  }
  GANAUG_CHECK(difference.empty(), s.where(phase), ": ", difference);
}
#else
struct ProcessGroup::Impl {
  DistributedOptions options;
};

ProcessGroup::ProcessGroup(const DistributedOptions& options) : impl_(std::make_unique<Impl>()) {
  options.validate();
  impl_->options = options;
  GANAUG_CHECK(options.world_size() == 1,
               "this ganaug was built without Gloo (install libgloo-dev and rebuild), so it "
               "cannot train with ",
               options.world_size(), " processes");
}
ProcessGroup::~ProcessGroup() = default;
int64_t ProcessGroup::rank() const { return 0; }
int64_t ProcessGroup::world_size() const { return 1; }
void ProcessGroup::broadcast(const std::vector<torch::Tensor>&, const std::string&) {}
void ProcessGroup::average_gradients(const std::vector<torch::Tensor>&, const std::string&) {}
void ProcessGroup::barrier(const std::string&) {}
void ProcessGroup::check_same_job(const JobFacts&, const std::string&) {}
#endif

}  // namespace ganaug
