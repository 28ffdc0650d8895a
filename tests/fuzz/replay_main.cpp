// Replay driver: a main() for fuzz targets built without libFuzzer (the normal
// g++ build). It runs every file named on the command line, or found directly
// inside a directory named there, through LLVMFuzzerTestOneInput once, in
// lexical order, so the committed corpora (seeds and past crashes) run as
// ordinary tests. A crash or failed invariant aborts the process, failing the test.
//
//   fuzz_config tests/fuzz/corpus/fuzz_config [more files or dirs...]
//
// Arguments starting with '-' are ignored, so libFuzzer-style command lines work.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc, char*** argv);

namespace {

bool read_whole(const std::filesystem::path& p, std::vector<std::uint8_t>& out) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return false;
  out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return !in.bad();
}

}  // namespace

int main(int argc, char** argv) {
  if (LLVMFuzzerInitialize != nullptr) LLVMFuzzerInitialize(&argc, &argv);

  std::vector<std::filesystem::path> inputs;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (!arg.empty() && arg[0] == '-') continue;
    std::error_code ec;
    if (std::filesystem::is_directory(arg, ec)) {
      std::vector<std::filesystem::path> found;
      for (const auto& entry : std::filesystem::directory_iterator(arg, ec)) {
        if (entry.is_regular_file(ec)) found.push_back(entry.path());
      }
      if (ec) {
        std::fprintf(stderr, "cannot list %s: %s\n", arg.c_str(), ec.message().c_str());
        return 2;
      }
      std::sort(found.begin(), found.end());
      inputs.insert(inputs.end(), found.begin(), found.end());
    } else if (std::filesystem::is_regular_file(arg, ec)) {
      inputs.emplace_back(arg);
    } else {
      std::fprintf(stderr, "no such file or directory: %s\n", arg.c_str());
      return 2;
    }
  }
  if (inputs.empty()) {
    std::fprintf(
        stderr,
        "usage: %s CORPUS_DIR_OR_FILE...\n(no inputs found: an empty corpus tests nothing)\n",
        argv[0]);
    return 2;
  }

  std::vector<std::uint8_t> data;
  for (const auto& p : inputs) {
    if (!read_whole(p, data)) {
      std::fprintf(stderr, "cannot read %s\n", p.c_str());
      return 2;
    }
    std::fprintf(stderr, "running %s (%zu bytes)\n", p.c_str(), data.size());
    // Copy into an exactly-sized heap block, as libFuzzer does, so sanitizers see
    // reads past the end of the input.
    auto* copy = new std::uint8_t[data.size()];
    std::copy(data.begin(), data.end(), copy);
    LLVMFuzzerTestOneInput(copy, data.size());
    delete[] copy;
  }
  std::fprintf(stderr, "replayed %zu inputs, no crash\n", inputs.size());
  return 0;
}
