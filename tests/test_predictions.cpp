// Tests of lib/eval/predictions: reading fsh-eval's per-query TSV and matching it to the
// episodes it claims to be of, every refusal included.
#include <doctest/doctest.h>

#include <fstream>

#include "eval/predictions.hpp"
#include "test_support.hpp"
#include "util/error.hpp"

using namespace fsh;

namespace {

const char* const header = "episode\tquery\timage\tlabel\tpredicted\tcorrect\n";

std::string write(const fsh::test::TempDir& dir, const std::string& text) {
  const std::string path = dir.file("p.tsv");
  std::ofstream(path) << text;
  return path;
}

// Two 2-way 1-query episodes over images 0..7 (queries are images 10 + 2e + q).
Episodes two_episodes() {
  Episodes e;
  e.n_way = 2;
  e.k_shot = 1;
  e.n_query = 1;
  e.classes = {0, 1, 0, 1};
  e.support = {0, 1, 2, 3};
  e.query = {10, 11, 12, 13};
  return e;
}

}  // namespace

TEST_CASE("predictions: read, matched to their episode") {
  fsh::test::TempDir dir;
  const std::string p = write(dir, std::string(header) +
                                       "0\t0\t10\t0\t0\t1\n0\t1\t11\t1\t0\t0\n"
                                       "1\t1\t13\t1\t1\t1\n1\t0\t12\t0\t1\t0\n");
  const auto rows = read_predictions(p);
  REQUIRE(rows.size() == 4);
  CHECK(rows[1].predicted == 0);
  CHECK_FALSE(rows[1].correct);
  const Episodes e = two_episodes();
  CHECK(episode_predictions(rows, e, 0, "p") == std::vector<int32_t>{0, 0});
  CHECK(episode_predictions(rows, e, 1, "p") == std::vector<int32_t>{1, 1});  // any row order
}

TEST_CASE("predictions: refusals name the file and line") {
  fsh::test::TempDir dir;
  CHECK_THROWS_AS(read_predictions(dir.file("none.tsv")), io_error);
  CHECK_THROWS_WITH_AS(read_predictions(write(dir, "")), doctest::Contains("empty"), format_error);
  CHECK_THROWS_WITH_AS(read_predictions(write(dir, "a\tb\n")), doctest::Contains("p.tsv:1:"),
                       format_error);
  const std::string h = header;
  CHECK_THROWS_WITH_AS(read_predictions(write(dir, h + "0\t0\t10\t0\t0\n")),
                       doctest::Contains("p.tsv:2: expected 6"), format_error);
  CHECK_THROWS_WITH_AS(read_predictions(write(dir, h + "0\t0\t10\t0\t0\t1\n0\tx\t1\t0\t0\t1\n")),
                       doctest::Contains("p.tsv:3:"), format_error);
  CHECK_THROWS_WITH_AS(read_predictions(write(dir, h + "0\t0\t10\t0\t1\t1\n")),
                       doctest::Contains("say otherwise"), format_error);
  CHECK_THROWS_WITH_AS(read_predictions(write(dir, h + "0\t-1\t10\t0\t0\t1\n")),
                       doctest::Contains("negative"), format_error);

  const Episodes e = two_episodes();
  auto check = [&](const std::string& rows, const char* text) {
    CHECK_THROWS_WITH_AS(episode_predictions(read_predictions(write(dir, h + rows)), e, 0, "p"),
                         doctest::Contains(text), format_error);
  };
  check("0\t0\t10\t0\t0\t1\n", "no prediction for query 1");
  check("0\t0\t10\t0\t0\t1\n0\t1\t11\t1\t1\t1\n0\t1\t11\t1\t1\t1\n", "twice");
  check("0\t0\t10\t0\t0\t1\n0\t1\t99\t1\t1\t1\n", "other episodes");
  check("0\t0\t10\t0\t0\t1\n0\t1\t11\t0\t0\t1\n", "other episodes");
  check("0\t0\t10\t0\t0\t1\n0\t2\t11\t1\t1\t1\n", "has 2 queries");
  check("0\t0\t10\t0\t0\t1\n0\t1\t11\t1\t2\t0\n", "not in [0, 2)");
}
