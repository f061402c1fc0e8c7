#include "data/calendar.h"

namespace attnlab::data {
namespace {

int64_t floor_div(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

// Leap days in the years before `year` (counting from year 1).
int64_t leap_days_before(int64_t year) {
  const int64_t y = year - 1;
  return floor_div(y, 4) - floor_div(y, 100) + floor_div(y, 400);
}

int64_t days_before_year(int64_t year) {
  return 365 * (year - 1970) + leap_days_before(year) - leap_days_before(1970);
}

}  // namespace

bool is_leap_year(int year) {
  return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

int days_in_month(int year, int month) {
  static constexpr int kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && is_leap_year(year) ? 29 : kDays[month - 1];
}

int64_t days_from_civil(CivilDate date) {
  int64_t days = days_before_year(date.year);
  for (int month = 1; month < date.month; ++month) days += days_in_month(date.year, month);
  return days + date.day - 1;
}

CivilDate civil_from_days(int64_t days) {
  // Estimate the year from the mean Gregorian year length, then correct the estimate by at most
  // a year either way.
  int64_t year = 1970 + floor_div(days * 400, 146097);
  while (days_before_year(year) > days) --year;
  while (days_before_year(year + 1) <= days) ++year;
  int64_t remaining = days - days_before_year(year);
  int month = 1;
  while (remaining >= days_in_month(static_cast<int>(year), month)) {
    remaining -= days_in_month(static_cast<int>(year), month);
    ++month;
  }
  return {static_cast<int>(year), month, static_cast<int>(remaining) + 1};
}

int weekday_of(CivilDate date) {
  // 1970-01-01 was a Thursday, ISO weekday 3.
  const int64_t days = days_from_civil(date);
  return static_cast<int>(((days + 3) % 7 + 7) % 7);
}

}  // namespace attnlab::data
