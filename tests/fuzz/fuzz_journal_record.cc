// libFuzzer target: the journal's on-disk decoding (docs/formats/journal.md). The input is read
// as a segment file: a 64-byte segment header (when one decodes) followed by records, which are
// cut with decode_record the way recovery reads a segment; every record that decodes is handed
// to the broker's payload decoder for its type.
// Invariants: nothing aborts or reads past the input (ASan); a decoded header and record
// re-encode to exactly the bytes they came from; a record cut one byte short never decodes;
// a decoded payload re-encodes to bytes that decode to the same record.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "broker/exchange_table.h"
#include "broker/journal_records.h"
#include "plugins/plugin_overlay.h"
#include "storage/record_codec.h"
#include "storage/segment_header.h"
#include "util/bytes.h"
#include "util/check.h"

namespace ballast::fuzz {
namespace {

using storage::DecodeStatus;

// Records in a segment without a valid header are read with this generation; the seeds use it.
constexpr uint32_t kHeaderlessGeneration = 1;
// How many times one input may resynchronise after a record that does not decode.
constexpr int kMaxResyncs = 64;

std::string_view as_text(std::span<const std::byte> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

// Decoding what `encode` wrote must give a record that encodes to the same bytes again.
template <typename Record, typename Decode, typename Encode>
void check_payload_round_trip(std::string_view payload, Decode decode, Encode encode, const char* type) {
  const Result<Record> decoded = decode(payload);
  if (!decoded) {
    BALLAST_CHECK(decoded.error().code() == ErrorCode::kStorageCorrupt, "{} decode failed with {}", type,
                  decoded.error().describe());
    return;
  }
  const std::string encoded = encode(*decoded);
  const Result<Record> again = decode(encoded);
  BALLAST_CHECK(again.ok(), "a re-encoded {} record does not decode", type);
  BALLAST_CHECK(encode(*again) == encoded, "a {} record does not survive a second round trip", type);
}

void check_message_properties(std::string_view encoded) {
  check_payload_round_trip<broker::MessageProperties>(encoded, broker::decode_properties,
                                                      broker::encode_properties, "message-properties");
}

void check_exchange_table(std::string_view payload) {
  broker::ExchangeTable table;
  if (!table.decode(payload, false)) return;
  const std::string encoded = table.encode();
  broker::ExchangeTable again;
  BALLAST_CHECK(again.decode(encoded, false), "a re-encoded exchange table does not decode");
  BALLAST_CHECK(again.encode() == encoded, "an exchange table does not survive a second round trip");
}

// Record type 10: the broker reads only the two strings; the plug-in host decodes the settings,
// which must come out as a value or an error, never an exception.
void check_plugin_settings(std::string_view payload) {
  ByteReader reader(payload);
  std::string plugin, settings;
  if (!reader.str(plugin) || !reader.str(settings)) return;
  BALLAST_CHECK(broker::encode_plugin_settings(plugin, settings) ==
                    payload.substr(0, payload.size() - reader.remaining()),
                "a plug-in settings record does not survive a round trip");
  auto overlay = plugins::decode_overlay(plugin, settings);
  if (overlay) {
    auto again = plugins::decode_overlay(plugin, plugins::encode_overlay(*overlay));
    BALLAST_CHECK(again && *again == *overlay, "plug-in settings do not survive a round trip");
  }
}

void check_broker_payload(uint16_t type, std::string_view payload) {
  using broker::RecordType;
  auto encode = [](const auto& record) { return broker::encode(record); };
  switch (static_cast<RecordType>(type)) {
    case RecordType::kQueueCreated:
      return check_payload_round_trip<broker::QueueCreatedRecord>(payload, broker::decode_queue_created,
                                                                  encode, "queue-created");
    case RecordType::kQueueChanged:
      return check_payload_round_trip<broker::QueueCreatedRecord>(
          payload, broker::decode_queue_changed,
          [](const broker::QueueCreatedRecord& record) {
            return broker::encode_queue_changed(record.queue_id, record.settings);
          },
          "queue-changed");
    case RecordType::kQueueDeleted:
      return check_payload_round_trip<broker::QueueDeletedRecord>(payload, broker::decode_queue_deleted,
                                                                  encode, "queue-deleted");
    case RecordType::kMessageAppended: {
      const auto message = broker::decode_message_appended(payload);
      if (message && message->properties_kind == broker::kNativeProperties) {
        check_message_properties(message->properties);
      }
      return check_payload_round_trip<broker::MessageAppendedRecord>(payload, broker::decode_message_appended,
                                                                     encode, "message-appended");
    }
    case RecordType::kMessageSettled:
      return check_payload_round_trip<broker::MessageSettledRecord>(payload, broker::decode_message_settled,
                                                                    encode, "message-settled");
    case RecordType::kMessageReturned:
      return check_payload_round_trip<broker::MessageReturnedRecord>(payload, broker::decode_message_returned,
                                                                     encode, "message-returned");
    case RecordType::kMessageMoved:
      return check_payload_round_trip<broker::MessageMovedRecord>(payload, broker::decode_message_moved,
                                                                  encode, "message-moved");
    case RecordType::kExchangesChanged:
      return check_exchange_table(payload);
    case RecordType::kPluginSettings:
      return check_plugin_settings(payload);
  }
}

void check_record(std::span<const std::byte> input, const storage::DecodedRecord& record) {
  BALLAST_CHECK(record.total_bytes == storage::encoded_record_bytes(record.payload.size()) &&
                    record.total_bytes <= input.size(),
                "record of {} bytes from {} input bytes", record.total_bytes, input.size());
  std::string encoded;
  const storage::RecordHeader& header = record.header;
  storage::encode_record(encoded, header.type, header.flags, header.generation, header.seq, record.payload);
  BALLAST_CHECK(encoded == as_text(input.first(record.total_bytes)),
                "record seq {} does not re-encode to its own bytes", header.seq);
  const auto cut =
      storage::decode_record(input.first(record.total_bytes - 1), header.generation, header.payload_bytes);
  BALLAST_CHECK(cut.status != DecodeStatus::kOk, "record seq {} decodes with its last byte cut", header.seq);
}

// Reads records from `offset` on as recovery does, skipping one byte past anything that does
// not decode (a bounded number of times).
void scan_records(std::span<const std::byte> input, size_t offset, uint32_t generation) {
  int resyncs = 0;
  while (offset < input.size()) {
    const auto record =
        storage::decode_record(input.subspan(offset), generation, static_cast<uint32_t>(input.size()));
    if (record.status != DecodeStatus::kOk) {
      if (record.status == DecodeStatus::kZero || ++resyncs > kMaxResyncs) return;
      ++offset;
      continue;
    }
    check_record(input.subspan(offset), record);
    check_broker_payload(record.header.type, as_text(record.payload));
    offset += record.total_bytes;
  }
}

std::optional<storage::SegmentHeader> checked_segment_header(std::span<const std::byte> input) {
  const auto header = storage::decode_segment_header(input);
  if (!header) return std::nullopt;
  const std::string encoded = storage::encode_segment_header(*header);
  const auto again = storage::decode_segment_header(std::as_bytes(std::span(encoded)));
  BALLAST_CHECK(again && again->segment_id == header->segment_id && again->generation == header->generation &&
                    again->first_seq == header->first_seq,
                "segment header {} does not survive a round trip", header->segment_id);
  return header;
}

}  // namespace
}  // namespace ballast::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ballast;
  const auto input = std::as_bytes(std::span(data, size));
  if (const auto header = fuzz::checked_segment_header(input)) {
    fuzz::scan_records(input, storage::kSegmentHeaderBytes, header->generation);
  } else {
    fuzz::scan_records(input, 0, fuzz::kHeaderlessGeneration);
  }
  return 0;
}
