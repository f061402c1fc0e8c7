#include "train/metrics_log.h"

#include <cmath>
#include <regex>
#include <stdexcept>

namespace attnlab {

std::string metrics_line(const TrainLogLine& l) {
  Json j = {{"step", l.step},           {"split", "train"},
            {"loss", l.loss},           {"lr", l.lr},
            {"grad_norm", l.grad_norm}, {"tokens_per_s", l.tokens_per_s},
            {"elapsed_s", l.elapsed_s}};
  if (l.ranks > 1) {
    j["ranks"] = l.ranks;
    j["wait_s"] = l.wait_s;
    j["allreduce_s"] = l.allreduce_s;
  }
  return json_line(j);
}

void add_metric_fields(Json& j, const EvalMetrics& m) {
  if (m.language_model) {
    j[m.lm_measure_name()] = m.lm_measure();
  } else if (m.classification) {
    j["accuracy"] = m.accuracy;
    j["macro_f1"] = m.macro_f1;
  } else {
    j["token_accuracy"] = m.token_accuracy;
    j["exact_match"] = m.exact_match;
  }
}

std::string held_out_line(int64_t step, const EvalMetrics& m, double elapsed_s) {
  Json j = {{"step", step}, {"split", "valid"}};
  j[m.language_model ? "blocks" : "examples"] = m.examples;
  j["loss"] = m.loss;
  add_metric_fields(j, m);
  j["elapsed_s"] = elapsed_s;
  return json_line(j);
}

std::string start_line(const std::string& run_id, const std::string& model,
                       const std::string& task) {
  return json_line(Json{{"event", "start"}, {"run_id", run_id}, {"model", model}, {"task", task}});
}

std::string resume_line(int64_t step, int64_t steps, const std::string& run_id) {
  return json_line(Json{{"event", "resume"}, {"step", step}, {"steps", steps}, {"run_id", run_id}});
}

std::string attention_line(int64_t step, const AttentionStatistics& stats, double elapsed_s) {
  Json maps = Json::array();
  for (const MapStatistics& m : stats.maps) {
    Json j = {{"name", m.name},
              {"kind", m.kind},
              {"entropy", m.entropy()},
              {"special_share", m.special_share()}};
    if (m.has_distance()) j["distance"] = m.distance();
    if (m.has_monotonicity()) j["monotonicity"] = m.monotonicity();
    maps.push_back(std::move(j));
  }
  return json_line(Json{{"step", step},
                        {"split", "attention"},
                        {"examples", stats.examples},
                        {"maps", std::move(maps)},
                        {"elapsed_s", elapsed_s}});
}

namespace {

double number(const Json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : NAN;
}

Json parse_object(const std::string& line) {
  Json j = Json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    // A non-finite number written as nan or inf, as fmt spells them.
    static const std::regex non_finite(R"(:\s*-?(nan|inf)\b)");
    j = Json::parse(std::regex_replace(line, non_finite, ": null"), nullptr, false);
  }
  if (j.is_discarded()) throw std::invalid_argument("not valid JSON");
  if (!j.is_object()) throw std::invalid_argument("not a JSON object");
  return j;
}

}  // namespace

MetricsRecord parse_metrics_line(const std::string& line) {
  const Json j = parse_object(line);
  MetricsRecord r;
  r.step = number(j, "step");
  r.elapsed_s = number(j, "elapsed_s");
  r.loss = number(j, "loss");
  r.tokens_per_s = number(j, "tokens_per_s");
  const auto text = [&](const char* key) {
    const auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  r.run_id = text("run_id");
  if (text("event") == "start") {
    r.kind = MetricsRecord::Kind::Start;
  } else if (text("event") == "resume") {
    r.kind = MetricsRecord::Kind::Resume;
  } else if (text("split") == "train") {
    r.kind = MetricsRecord::Kind::Train;
  } else if (text("split") == "valid") {
    r.kind = MetricsRecord::Kind::Valid;
    r.examples = j.contains("blocks") ? number(j, "blocks") : number(j, "examples");
    for (const char* score :
         {"exact_match", "token_accuracy", "accuracy", "macro_f1", "bits_per_char", "perplexity"})
      if (j.contains(score)) r.scores.emplace_back(score, number(j, score));
  } else if (text("split") == "attention" && j.contains("maps") && j["maps"].is_array()) {
    r.kind = MetricsRecord::Kind::Attention;
    r.examples = number(j, "examples");
    r.maps = j["maps"];
  }
  return r;
}

}  // namespace attnlab
