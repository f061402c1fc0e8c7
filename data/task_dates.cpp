// The `dates` task: a date between 1950-01-01 and 2049-12-31 written in one of several human
// formats -> ISO 8601 "YYYY-MM-DD". Weekday names are computed from the date, so a model can
// not learn to ignore them as noise but also never sees a contradictory weekday.
//
// Numeric formats are always day-first (03/04/21 is the 3rd of April), since mixing day-first
// and month-first would give one source two correct targets. Two-digit years are unambiguous in
// this range: 50..99 mean 19xx and 00..49 mean 20xx.

#include "data/calendar.h"
#include "data/task_spec.h"

#include <fmt/format.h>

#include <array>
#include <cctype>
#include <string>
#include <string_view>

namespace attnlab::data::detail {
namespace {

constexpr CivilDate kFirstDate{1950, 1, 1};
constexpr CivilDate kLastDate{2049, 12, 31};

constexpr std::array<std::string_view, 12> kMonthNames = {
    "january", "february", "march",     "april",   "may",      "june",
    "july",    "august",   "september", "october", "november", "december"};
constexpr std::array<std::string_view, 7> kWeekdayNames = {
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"};

std::string capitalized(std::string_view word) {
  std::string out(word);
  if (!out.empty()) out[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(out[0])));
  return out;
}

std::string upper(std::string_view word) {
  std::string out(word);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string_view abbreviated(std::string_view word) {
  return word.substr(0, 3);
}

std::string ordinal(int day) {
  const bool teen = day % 100 >= 11 && day % 100 <= 13;
  const char* suffix = teen            ? "th"
                       : day % 10 == 1 ? "st"
                       : day % 10 == 2 ? "nd"
                       : day % 10 == 3 ? "rd"
                                       : "th";
  return fmt::format("{}{}", day, suffix);
}

constexpr int kNumFormats = 11;

// Format `index` of `date`; the comments show 2021-03-03 (a Wednesday).
std::string format_date(CivilDate date, int index) {
  const auto [y, m, d] = date;
  const std::string_view month = kMonthNames[m - 1];
  const std::string_view weekday = kWeekdayNames[weekday_of(date)];
  switch (index) {
    case 0:  // 3 march 2021
      return fmt::format("{} {} {}", d, month, y);
    case 1:  // March 3rd, 2021
      return fmt::format("{} {}, {}", capitalized(month), ordinal(d), y);
    case 2:  // 03/03/21
      return fmt::format("{:02}/{:02}/{:02}", d, m, y % 100);
    case 3:  // Wed 3 Mar 2021
      return fmt::format("{} {} {} {}", capitalized(abbreviated(weekday)), d,
                         capitalized(abbreviated(month)), y);
    case 4:  // 2021.03.03
      return fmt::format("{}.{:02}.{:02}", y, m, d);
    case 5:  // 3rd of March 2021
      return fmt::format("{} of {} {}", ordinal(d), capitalized(month), y);
    case 6:  // mar 3 2021
      return fmt::format("{} {} {}", abbreviated(month), d, y);
    case 7:  // wednesday, march 3, 2021
      return fmt::format("{}, {} {}, {}", weekday, month, d, y);
    case 8:  // 03-MAR-2021
      return fmt::format("{:02}-{}-{}", d, upper(abbreviated(month)), y);
    case 9:  // 3.3.2021
      return fmt::format("{}.{}.{}", d, m, y);
    default:  // Wednesday 3rd March 2021
      return fmt::format("{} {} {} {}", capitalized(weekday), ordinal(d), capitalized(month), y);
  }
}

}  // namespace

TaskSpec dates_task() {
  const int64_t first = days_from_civil(kFirstDate);
  const int64_t last = days_from_civil(kLastDate);
  // Every format spells out day, month and year, and the formats differ in shape, so each
  // (date, format) pair is a distinct source.
  const auto unique = static_cast<uint64_t>(last - first + 1) * kNumFormats;
  return {
      .name = "dates",
      .kind = TaskKind::Translation,
      .description = "a date 1950..2049 in one of 11 formats ('Wed 3 Mar 2021') -> '2021-03-03'",
      .labels = {},
      .unique_sources = unique,
      .generate =
          [first, last](Rng& rng, int) {
            const CivilDate date = civil_from_days(rng.between(first, last));
            const int format = static_cast<int>(rng.below(kNumFormats));
            return Example{format_date(date, format),
                           fmt::format("{:04}-{:02}-{:02}", date.year, date.month, date.day)};
          },
  };
}

}  // namespace attnlab::data::detail
