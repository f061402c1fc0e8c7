// The grammar and labelling rule of the `sentiment` task, exposed so the rule can be tested on
// hand-written sentences and students can probe a trained model with their own.
//
// Vocabulary
//   subject    it | the movie | the film | the plot | the food | the cast | the music |
//              the book | the show
//   copula     was | is
//   positive   good great fun lovely superb brilliant charming amazing        (polarity +1)
//   negative   bad awful dull boring terrible bland weak poor                 (polarity -1)
//   intensifier  very really so truly extremely
//   downtoner    somewhat fairly mildly
//
// A predicate has a score: its adjective's polarity p times a strength.
//   ADJ                 +2p   "good"
//   INTENSIFIER ADJ     +3p   "very good"
//   DOWNTONER ADJ       +1p   "fairly good"
//   not ADJ             -2p   "not good"          negation flips the polarity
//   not INTENSIFIER ADJ -1p   "not very good"     ... and a negated intensifier is a mild flip
//   not ADJ at all      -3p   "not bad at all"    ... while "at all" makes it emphatic
// A clause is SUBJECT COPULA PREDICATE ("the plot was not very good").
//
// Sentences and their label (positive if the deciding score is > 0, negative if < 0):
//   PREDICATE                               its own score           "not bad at all"
//   CLAUSE                                  the clause              "the movie was not good"
//   CLAUSE and CLAUSE                       the SUM of both scores  "it was very good and the
//                                           (never zero)             plot was fairly dull" (+)
//   CLAUSE but CLAUSE                       the second clause       "it was fun but the food
//                                           (contrast)               was bad" (-)
//   although CLAUSE CLAUSE                  the second clause       "although it was dull the
//                                           (concession)             cast was great" (+)
//   i thought it would be EXPECTATION but CLAUSE
//   i expected it to be EXPECTATION but CLAUSE
//                                           the clause; the expectation is ignored
//                                           ("i thought it would be great but it was awful" -)
//   where EXPECTATION is ADJ or INTENSIFIER ADJ.
// Generated sentences are at most 48 characters long.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace attnlab::data {

// "positive" / "negative" for a sentence of the grammar above (words separated by single
// spaces, lowercase), std::nullopt if the sentence is not in the grammar or an "and" sentence
// scores exactly zero.
std::optional<std::string> sentiment_label(std::string_view sentence);

}  // namespace attnlab::data
