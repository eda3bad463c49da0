#pragma once
// How `ballast journal verify` and `salvage` print their reports: human text, or one line of
// JSON with --json. Every damaged range is one STORAGE_CORRUPT line naming the file, the byte
// range, the status and the queues it touches.
// Thread-safe: pure functions.

#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "broker/journal_salvage.h"
#include "storage/journal_verifier.h"

namespace ballast::tools {

// The verify report as JSON: data_dir, clean, segments_read, records, bytes, damage[],
// warnings[] (torn tails), fix.
nlohmann::json verify_json(const std::string& data_dir, const storage::VerifyReport& report,
                           const std::vector<std::set<broker::QueueName>>& queues);
// The same as text, one line per damage and warning, ending with the verdict and the fix.
std::string verify_text(const std::string& data_dir, const storage::VerifyReport& report,
                        const std::vector<std::set<broker::QueueName>>& queues);

nlohmann::json salvage_json(const std::string& data_dir, const broker::SalvageReport& report);
std::string salvage_text(const std::string& data_dir, const broker::SalvageReport& report);

}  // namespace ballast::tools
