#include "util/check.h"

#include <cstdio>
#include <cstdlib>

namespace ballast::detail {

void check_failed(const char* condition, const std::string& message, std::source_location where) {
  std::fprintf(stderr, "level=fatal event=bug.check_failed condition=\"%s\" file=%s line=%u message=\"%s\"\n",
               condition, where.file_name(), static_cast<unsigned>(where.line()), message.c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace ballast::detail
