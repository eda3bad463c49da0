#pragma once
// Reads messages for `ballast send` from a text stream, ONE LINE = ONE MESSAGE, in batches of a
// bounded size, so input of any length is sent without holding it all in memory.
// A line ends at '\n'; a '\r' before it is dropped too (files written on Windows). An empty line
// is an empty message; a last line without '\n' is still a message.
// Not thread-safe: reads `input`, which must outlive the batcher.

#include <cstddef>
#include <istream>
#include <string>
#include <vector>

#include "util/result.h"

namespace ballast::tools {

class LineBatcher {
 public:
  // `source_name` ("stdin" or the file's path) names the input in errors. max_batch_size >= 1.
  LineBatcher(std::istream& input, std::string source_name, size_t max_batch_size);

  // The next lines, at most max_batch_size of them; empty once the input is exhausted. A batch
  // smaller than max_batch_size is the last non-empty one.
  // Fails with INVALID_ARGUMENT naming the source when reading fails for another reason than
  // the end of the input (e.g. the path is a directory).
  Result<std::vector<std::string>> next_batch();

 private:
  std::istream& input_;
  std::string source_name_;
  size_t max_batch_size_;
};

}  // namespace ballast::tools
