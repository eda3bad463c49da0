#include "tools/line_batcher.h"

#include "util/check.h"

namespace ballast::tools {

LineBatcher::LineBatcher(std::istream& input, std::string source_name, size_t max_batch_size)
    : input_(input), source_name_(std::move(source_name)), max_batch_size_(max_batch_size) {
  BALLAST_CHECK(max_batch_size_ >= 1, "LineBatcher needs a batch size of at least 1");
}

Result<std::vector<std::string>> LineBatcher::next_batch() {
  std::vector<std::string> lines;
  std::string line;
  while (lines.size() < max_batch_size_ && std::getline(input_, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(std::move(line));
  }
  if (input_.bad() || (input_.fail() && !input_.eof())) {
    return Error(ErrorCode::kInvalidArgument, fmt::format("could not read messages from {}", source_name_),
                 "give a readable text file with --file (one message per line), or pipe the "
                 "messages into stdin");
  }
  return lines;
}

}  // namespace ballast::tools
