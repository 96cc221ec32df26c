// The SQLite side of the CAP tables (used by SqliteStore; the migration is in sqlite_store.cpp).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "loa/controller/cap_records.hpp"
#include "loa/protocol/result.hpp"
#include "loa/runtime/sqlite.hpp"

namespace loa::controller::cap_store {

// Each is one statement (or a short sequence) on `db`; errors carry SQLite's message.
Result<std::uint64_t> add_alert(runtime::Database& db, const CapAlertRecord& alert);
loa::Status close_alert(runtime::Database& db, std::uint64_t id, protocol::Micros at_us,
                        std::uint64_t by);
Result<std::optional<CapAlertRecord>> find_alert(runtime::Database& db, const std::string& sender,
                                                 const std::string& identifier);
Result<std::optional<CapAlertRecord>> get_alert(runtime::Database& db, std::uint64_t id);
Result<std::vector<CapAlertRecord>> alerts(runtime::Database& db, std::size_t limit);
loa::Status set_geocode(runtime::Database& db, const CapGeocodeRecord& geocode);
Result<bool> remove_geocode(runtime::Database& db, const std::string& value_name,
                            const std::string& value);
Result<std::vector<CapGeocodeRecord>> geocodes(runtime::Database& db);

}  // namespace loa::controller::cap_store
