#include "kappa/app/diff.h"

#include <algorithm>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "kappa/base/file_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kappa::connectors {
namespace {

using ::kappa::testing::ScopedTempDir;
using ::kappa::testing::WriteStringToFile;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

std::string Canonical(std::string_view json) {
  absl::StatusOr<std::string> c = CanonicalJson(json);
  EXPECT_TRUE(c.ok()) << json << ": " << c.status();
  return c.ok() ? *c : std::string();
}

std::string Msg(const absl::Status& s) { return std::string(s.message()); }

TEST(CanonicalJsonTest, SortsKeysAtEveryLevelAndDropsWhitespace) {
  EXPECT_EQ(Canonical(R"( { "b" : 1, "a" : { "y" : [ 2, 1 ], "x" : null } } )"),
            R"({"a":{"x":null,"y":[2,1]},"b":1})");
}

TEST(CanonicalJsonTest, RoundsFractionsToThreeDecimalsAndKeepsIntegersExact) {
  EXPECT_EQ(Canonical("1.0004"), "1");
  EXPECT_EQ(Canonical("1.0001"), "1");
  EXPECT_EQ(Canonical("1.001"), "1.001");
  EXPECT_EQ(Canonical("1.002"), "1.002");
  EXPECT_EQ(Canonical("2.50"), "2.5");
  EXPECT_EQ(Canonical("5.0"), "5");
  EXPECT_EQ(Canonical("1e2"), "100");
  EXPECT_EQ(Canonical("-0.0001"), "0");
  EXPECT_EQ(Canonical("9007199254740993"), "9007199254740993");
  EXPECT_EQ(Canonical("18446744073709551615"), "18446744073709551615");
}

TEST(CanonicalJsonTest, StringsCompareByValueNotEscaping) {
  EXPECT_EQ(Canonical(R"({"\u0061":"\u0041\/"})"), R"({"a":"A/"})");
}

TEST(CanonicalJsonTest, MalformedJsonIsAnError) {
  EXPECT_FALSE(CanonicalJson(R"({"a":1} x)").ok());
  EXPECT_FALSE(CanonicalJson(R"({"a":)").ok());
}

class DiffTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& name, std::string_view text) {
    WriteStringToFile(tmp_.Path(name), text);
    return tmp_.Path(name);
  }

  DiffResult Diff(const std::string& a, const std::string& b, std::vector<std::string> key = {},
                  bool upsert = false) {
    DiffOptions options;
    options.a = a;
    options.b = b;
    options.key = std::move(key);
    options.upsert = upsert;
    absl::StatusOr<DiffResult> result = DiffOutputs(options);
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *std::move(result) : DiffResult{};
  }

  absl::Status DiffError(const std::string& a, const std::string& b, std::vector<std::string> key = {}) {
    DiffOptions options;
    options.a = a;
    options.b = b;
    options.key = std::move(key);
    return DiffOutputs(options).status();
  }

  static std::string Report(const DiffResult& result) {
    std::ostringstream out;
    PrintDiffReport(result, out);
    return out.str();
  }

  ScopedTempDir tmp_;
};

TEST_F(DiffTest, ReorderedRowsAndKeysAreEqual) {
  std::string a = Write("a.jsonl", "{\"id\":1,\"name\":\"x\"}\n{\"id\":2,\"name\":\"y\"}\n");
  std::string b = Write("b.jsonl", "{\"name\": \"y\", \"id\": 2}\n{ \"name\":\"x\",\"id\":1 }\n");
  DiffResult r = Diff("file:" + a, "file:" + b);
  EXPECT_TRUE(r.equal());
  EXPECT_EQ(r.rows_a, 2);
  EXPECT_EQ(r.rows_b, 2);
  EXPECT_TRUE(r.diffs.empty());
  EXPECT_EQ(Report(r), "outputs are equal: 2 rows\n");
}

TEST_F(DiffTest, DuplicateRowCountsAsADifference) {
  std::string a = Write("a.jsonl", "{\"id\":1}\n{\"id\":1}\n{\"id\":2}\n");
  std::string b = Write("b.jsonl", "{\"id\":2}\n{\"id\":1}\n");
  DiffResult r = Diff(a, b);
  EXPECT_FALSE(r.equal());
  EXPECT_EQ(r.rows_a, 3);
  EXPECT_EQ(r.rows_b, 2);
  EXPECT_EQ(r.only_a, 1);
  EXPECT_EQ(r.only_b, 0);
  ASSERT_EQ(r.diffs.size(), 1u);
  ASSERT_EQ(r.diffs[0].only_a.size(), 1u);
  EXPECT_EQ(r.diffs[0].only_a[0].row, "{\"id\":1}");
  EXPECT_EQ(r.diffs[0].only_a[0].count, 1);
}

TEST_F(DiffTest, RowMoreOftenOnOneSideShowsItsSurplus) {
  std::string a = Write("a.jsonl", "{\"id\":1}\n{\"id\":1}\n{\"id\":1}\n");
  std::string b = Write("b.jsonl", "{\"id\":1}\n{\"id\":3}\n");
  DiffResult r = Diff(a, b);
  EXPECT_EQ(r.only_a, 2);
  EXPECT_EQ(r.only_b, 1);
  EXPECT_THAT(Report(r), AllOf(HasSubstr("\n< {\"id\":1}  (x2)\n> {\"id\":3}\n"), HasSubstr("rows only in A: 2\n"),
                               HasSubstr("rows only in B: 1\n")));
}

TEST_F(DiffTest, FractionsCompareRoundedToThreeDecimals) {
  std::string a = Write("a.jsonl", "{\"price\":1.0004}\n");
  std::string b = Write("b.jsonl", "{\"price\":1.0001}\n");
  EXPECT_TRUE(Diff(a, b).equal());

  std::string c = Write("c.jsonl", "{\"price\":1.001}\n");
  std::string d = Write("d.jsonl", "{\"price\":1.002}\n");
  DiffResult r = Diff(c, d);
  EXPECT_FALSE(r.equal());
  EXPECT_EQ(Report(r),
            "rows in A:      1 (" + c + ")\n"
            "rows in B:      1 (" + d + ")\n"
            "rows only in A: 1\n"
            "rows only in B: 1\n"
            "< {\"price\":1.001}\n"
            "> {\"price\":1.002}\n");
}

TEST_F(DiffTest, KeyGroupsRowsAndReportsDifferingKeys) {
  std::string a = Write("a.jsonl",
                        "{\"auction\":5,\"price\":10}\n{\"auction\":5,\"price\":11}\n"
                        "{\"auction\":6,\"price\":1}\n{\"auction\":7,\"price\":2}\n");
  std::string b = Write("b.jsonl",
                        "{\"auction\":7,\"price\":2}\n{\"auction\":5,\"price\":10}\n"
                        "{\"auction\":6,\"price\":3}\n");
  DiffResult r = Diff(a, b, {"auction"});
  EXPECT_EQ(r.keys_a, 3);
  EXPECT_EQ(r.keys_b, 3);
  EXPECT_EQ(r.keys_differ, 2);
  EXPECT_EQ(r.only_a, 2);
  EXPECT_EQ(r.only_b, 1);
  ASSERT_EQ(r.diffs.size(), 2u);
  EXPECT_EQ(r.diffs[0].key, "{\"auction\":5}");
  EXPECT_EQ(r.diffs[0].key_rows_a, 2);
  EXPECT_EQ(r.diffs[0].key_rows_b, 1);
  EXPECT_EQ(r.diffs[1].key, "{\"auction\":6}");
  EXPECT_THAT(Report(r), AllOf(HasSubstr("keys (auction) in A: 3, in B: 3, differing: 2\n"),
                               HasSubstr("key {\"auction\":5}: A has 2 rows, B has 1 row\n"
                                         "< {\"auction\":5,\"price\":11}\n"
                                         "key {\"auction\":6}: A has 1 row, B has 1 row\n"
                                         "< {\"auction\":6,\"price\":1}\n"
                                         "> {\"auction\":6,\"price\":3}\n"),
                               Not(HasSubstr("\"auction\":7"))));
}

TEST_F(DiffTest, CompoundKeyKeepsFieldOrderGiven) {
  std::string a = Write("a.jsonl", "{\"b\":1,\"a\":2,\"v\":1}\n");
  std::string b = Write("b.jsonl", "{\"b\":1,\"a\":2,\"v\":2}\n");
  DiffResult r = Diff(a, b, {"b", "a"});
  ASSERT_EQ(r.diffs.size(), 1u);
  EXPECT_EQ(r.diffs[0].key, "{\"b\":1,\"a\":2}");
}

TEST_F(DiffTest, UpsertKeepsTheLastRowPerKey) {
  // A directory's part files are read in name order: part-2 after part-1.
  std::filesystem::create_directories(tmp_.Path("a"));
  Write("a/part-00000001-000.jsonl", "{\"auction\":1,\"price\":5}\n{\"auction\":2,\"price\":7}\n");
  Write("a/part-00000002-000.jsonl", "{\"auction\":1,\"price\":9}\n");
  std::string b = Write("b.jsonl", "{\"auction\":2,\"price\":7}\n{\"auction\":1,\"price\":9}\n");

  DiffResult upsert = Diff(tmp_.Path("a") + "/", b, {"auction"}, /*upsert=*/true);
  EXPECT_TRUE(upsert.equal()) << Report(upsert);
  EXPECT_EQ(upsert.rows_a, 2);
  EXPECT_EQ(upsert.lines_read_a, 3);
  EXPECT_THAT(Report(upsert), HasSubstr("outputs are equal: 2 rows, 2 keys (last row per key; 3 and 2 rows read)"));

  DiffResult all = Diff(tmp_.Path("a") + "/", b, {"auction"});
  EXPECT_FALSE(all.equal());
  EXPECT_EQ(all.only_a, 1);

  // The last row wins, not any row: B's older price for auction 1 differs.
  std::string stale = Write("stale.jsonl", "{\"auction\":1,\"price\":9}\n{\"auction\":1,\"price\":5}\n"
                                           "{\"auction\":2,\"price\":7}\n");
  DiffResult r = Diff(tmp_.Path("a"), stale, {"auction"}, /*upsert=*/true);
  EXPECT_EQ(r.keys_differ, 1);
  ASSERT_EQ(r.diffs.size(), 1u);
  ASSERT_EQ(r.diffs[0].only_a.size(), 1u);
  EXPECT_EQ(r.diffs[0].only_a[0].row, "{\"auction\":1,\"price\":9}");
  ASSERT_EQ(r.diffs[0].only_b.size(), 1u);
  EXPECT_EQ(r.diffs[0].only_b[0].row, "{\"auction\":1,\"price\":5}");
}

TEST_F(DiffTest, UpsertWithoutKeyIsAnError) {
  std::string a = Write("a.jsonl", "{}\n");
  DiffOptions options;
  options.a = a;
  options.b = a;
  options.upsert = true;
  absl::StatusOr<DiffResult> r = DiffOutputs(options);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(Msg(r.status()), HasSubstr("--key"));
}

TEST_F(DiffTest, DirectoryReadsOnlyPublishedPartFiles) {
  std::filesystem::create_directories(tmp_.Path("out/sub"));
  Write("out/part-00000.jsonl", "{\"id\":1}\n");
  Write("out/part-00001.jsonl", "{\"id\":2}\n");
  Write("out/.part-000-run-1.inprogress", "{\"id\":3}\nnot json\n");
  Write("out/.part-00002.jsonl", "{\"id\":4}\n");
  Write("out/notes.txt", "not json\n");
  Write("out/sub/part-00003.jsonl", "{\"id\":5}\n");
  std::string b = Write("b.jsonl", "{\"id\":2}\n{\"id\":1}\n");
  DiffResult r = Diff("file:" + tmp_.Path("out") + "/", "file:" + b);
  EXPECT_TRUE(r.equal()) << Report(r);
  EXPECT_EQ(r.rows_a, 2);
}

TEST_F(DiffTest, ReadOutputLinesVisitsPartFilesInNameOrderWithLineNumbers) {
  std::filesystem::create_directories(tmp_.Path("out"));
  Write("out/part-final-000.jsonl", "c\n");
  Write("out/part-00000001-000.jsonl", "a\n\nb\n");
  std::vector<std::string> seen;
  absl::Status s = ReadOutputLines("file:" + tmp_.Path("out"), [&](const OutputLine& line) {
    EXPECT_GE(line.padded_capacity, line.text.size());
    seen.push_back(absl::StrCat(std::filesystem::path(std::string(line.origin)).filename().string(), ":",
                                line.number, ":", std::string(line.text)));
    return absl::OkStatus();
  });
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_THAT(seen, ElementsAre("part-00000001-000.jsonl:1:a", "part-00000001-000.jsonl:2:",
                                "part-00000001-000.jsonl:3:b", "part-final-000.jsonl:1:c"));
}

TEST_F(DiffTest, EmptyDirectoryIsAnErrorNamingIt) {
  std::filesystem::create_directories(tmp_.Path("empty"));
  Write("empty/.part-000-run-1.inprogress", "{}\n");
  std::string b = Write("b.jsonl", "");
  absl::Status s = DiffError(tmp_.Path("empty"), b);
  EXPECT_THAT(Msg(s), AllOf(HasSubstr(tmp_.Path("empty")), HasSubstr("part-*.jsonl")));
}

TEST_F(DiffTest, MalformedLineIsAnErrorNamingFileAndLine) {
  std::string a = Write("a.jsonl", "{\"id\":1}\n\n{\"id\":2\n{\"id\":3}\n");
  std::string b = Write("b.jsonl", "{\"id\":1}\n");
  absl::Status s = DiffError("file:" + a, b);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Msg(s), AllOf(HasSubstr(a + ":3: malformed JSON"), HasSubstr("{\\\"id\\\":2")));
  EXPECT_EQ(Msg(s).find('\n'), std::string::npos);

  // Also in B, and also when the bad line is the last one without a newline.
  std::string c = Write("c.jsonl", "{\"id\":1}\n[1,");
  EXPECT_THAT(Msg(DiffError(b, c)), HasSubstr(c + ":2: malformed JSON"));
}

TEST_F(DiffTest, RowWithoutAKeyFieldIsAnErrorNamingTheRow) {
  std::string a = Write("a.jsonl", "{\"auction\":1,\"price\":2}\n{\"price\":3}\n");
  std::string b = Write("b.jsonl", "{\"auction\":1,\"price\":2}\n");
  absl::Status s = DiffError(a, b, {"auction"});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Msg(s), AllOf(HasSubstr(a + ":2:"), HasSubstr("no field 'auction'"), HasSubstr("price\\\":3")));

  std::string scalar = Write("scalar.jsonl", "42\n");
  EXPECT_THAT(Msg(DiffError(scalar, b, {"auction"})), AllOf(HasSubstr(scalar + ":1:"), HasSubstr("not an object")));
}

TEST_F(DiffTest, MissingFileIsNotFound) {
  std::string b = Write("b.jsonl", "{}\n");
  absl::Status s = DiffError("file:" + tmp_.Path("nope.jsonl"), b);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(Msg(s), HasSubstr("nope.jsonl"));
}

TEST_F(DiffTest, UnknownSchemeAndStdoutAreRefusedNamingTheAcceptedForms) {
  std::string b = Write("b.jsonl", "{}\n");
  absl::Status unknown = DiffError("s3://bucket/out", b);
  EXPECT_EQ(unknown.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Msg(unknown), AllOf(HasSubstr("s3://bucket/out"), HasSubstr("file:PATH"), HasSubstr("file:DIR/"),
                                  HasSubstr("kafka://")));
  EXPECT_THAT(Msg(DiffError("stdout:", b)), AllOf(HasSubstr("stdout:"), HasSubstr("file:PATH")));
  EXPECT_THAT(Msg(DiffError("file:" + b + "?follow=true", b)), HasSubstr("?"));
}

TEST_F(DiffTest, PlainPathWithAColonIsAFile) {
  std::string a = Write("run:1.jsonl", "{\"id\":1}\n");
  std::string b = Write("b.jsonl", "{\"id\":1}\n");
  EXPECT_TRUE(Diff(a, b).equal());
}

TEST_F(DiffTest, MaxDiffsLimitsTheListAndSaysHowManyMore) {
  std::string a = Write("a.jsonl", "{\"id\":1}\n{\"id\":2}\n{\"id\":3}\n{\"id\":4}\n");
  std::string b = Write("b.jsonl", "{\"id\":5}\n");
  DiffOptions options;
  options.a = a;
  options.b = b;
  options.max_diffs = 2;
  absl::StatusOr<DiffResult> r = DiffOutputs(options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->total_diffs, 5);
  ASSERT_EQ(r->diffs.size(), 2u);
  EXPECT_THAT(Report(*r), AllOf(HasSubstr("< {\"id\":1}\n< {\"id\":2}\n... 3 more differing rows (--max-diffs 2)\n"),
                                Not(HasSubstr("{\"id\":3}"))));
}

TEST_F(DiffTest, RunDiffReturnsTheExitCodes) {
  std::string a = Write("a.jsonl", "{\"id\":1}\n");
  std::string same = Write("same.jsonl", "{ \"id\" : 1.0 }\n");
  std::string other = Write("other.jsonl", "{\"id\":2}\n");
  std::string bad = Write("bad.jsonl", "{\n");
  auto run = [](const std::string& x, const std::string& y, std::string* out, std::string* err) {
    DiffOptions options;
    options.a = x;
    options.b = y;
    std::ostringstream o, e;
    int rc = RunDiff(options, o, e);
    *out = o.str();
    *err = e.str();
    return rc;
  };
  std::string out, err;
  EXPECT_EQ(run(a, same, &out, &err), 0);
  EXPECT_EQ(out, "outputs are equal: 1 row\n");
  EXPECT_EQ(err, "");
  EXPECT_EQ(run(a, other, &out, &err), 1);
  EXPECT_THAT(out, HasSubstr("< {\"id\":1}\n> {\"id\":2}\n"));
  EXPECT_EQ(run(a, bad, &out, &err), 2);
  EXPECT_EQ(out, "");
  EXPECT_THAT(err, AllOf(::testing::StartsWith("kappa: "), HasSubstr(bad + ":1:")));
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1);
}

}  // namespace
}  // namespace kappa::connectors
