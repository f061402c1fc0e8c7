// Proleptic Gregorian calendar arithmetic for the dates task. Days are counted from 1970-01-01
// so a date range becomes an integer range that can be sampled uniformly.
#pragma once

#include <cstdint>

namespace attnlab::data {

struct CivilDate {
  int year;
  int month;  // 1..12
  int day;    // 1..31
};

bool is_leap_year(int year);
int days_in_month(int year, int month);
// Days since 1970-01-01 (negative before it). The date must be valid.
int64_t days_from_civil(CivilDate date);
CivilDate civil_from_days(int64_t days);
// ISO numbering: 0 = Monday ... 6 = Sunday.
int weekday_of(CivilDate date);

}  // namespace attnlab::data
