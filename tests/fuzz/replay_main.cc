// Replays fuzz inputs without libFuzzer, so a GCC sanitizer build (`make test`) runs the
// committed corpus and every past crasher deterministically. Each argument is a file or a
// directory; every regular file named, or found under a named directory (recursively, names
// starting with '.' skipped, in sorted path order), is passed once to LLVMFuzzerTestOneInput.
// Prints how many inputs ran. Exits 1 if an argument or a file cannot be read; a bug the
// target finds aborts the process, as under libFuzzer.
#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

namespace fs = std::filesystem;

bool hidden(const fs::path& path) {
  return path.filename().string().starts_with(".");
}

// The inputs an argument names; false if it does not exist.
bool collect(const fs::path& argument, std::vector<fs::path>& inputs) {
  std::error_code ec;
  if (fs::is_regular_file(argument, ec)) {
    inputs.push_back(argument);
    return true;
  }
  if (!fs::is_directory(argument, ec)) return false;
  for (const auto& entry : fs::recursive_directory_iterator(argument, ec)) {
    if (entry.is_regular_file() && !hidden(entry.path())) inputs.push_back(entry.path());
  }
  return !ec;
}

bool replay(const fs::path& input) {
  std::ifstream in(input, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof()) return false;
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<fs::path> inputs;
  for (int i = 1; i < argc; ++i) {
    if (!collect(argv[i], inputs)) {
      fmt::print(stderr, "replay: cannot read {}. Fix: name a corpus file or directory.\n", argv[i]);
      return 1;
    }
  }
  std::sort(inputs.begin(), inputs.end());
  for (const fs::path& input : inputs) {
    if (!replay(input)) {
      fmt::print(stderr, "replay: cannot read {}. Fix: check that the file is readable.\n", input.string());
      return 1;
    }
  }
  fmt::print("replay: {} inputs ran without a failure\n", inputs.size());
  return 0;
}
