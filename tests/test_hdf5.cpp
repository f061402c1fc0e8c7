// H5File: round trips of every element type, groups, strings, attributes,
// listing, and that every failure (including truncated and non-HDF5 files) is
// a std::runtime_error naming the file, the path and the problem.
#include <hdf5.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string_view>

#include "io/hdf5.h"

using namespace attnlab;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

// A fresh directory under the system temp dir, removed with its contents.
struct TempDir {
  fs::path path;
  TempDir() {
    static int counter = 0;
    path = fs::temp_directory_path() /
           ("attnlab_test_hdf5_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

}  // namespace

TEST_CASE("hdf5: round trip of every element type and shape", "[hdf5]") {
  TempDir dir;
  const std::string path = dir.file("types.h5");
  {
    H5File f = H5File::create(path);
    f.write<double>("d", {1.5, -2.25, 3e-300, 4, 5, 6}, {2, 3});
    f.write<float>("f", {0.5f, -1.0f, 3.25f, 1e30f}, {4});
    f.write<int32_t>("i32", {-1, 2, 2147483647, -2147483647 - 1}, {2, 2});
    f.write<int64_t>("i64", {int64_t(1) << 40}, {});  // scalar
    f.write<uint8_t>("u8", {0, 1, 255, 7, 8, 9}, {3, 1, 2});
    f.write<double>("empty", {}, {0, 3});
    f.close();
    REQUIRE_FALSE(f.is_open());
  }
  H5File f = H5File::open_read(path);
  auto d = f.read_double("d");
  CHECK(d.shape == std::vector<int64_t>{2, 3});
  CHECK(d.values == std::vector<double>{1.5, -2.25, 3e-300, 4, 5, 6});
  auto fl = f.read_float("f");
  CHECK(fl.shape == std::vector<int64_t>{4});
  CHECK(fl.values == std::vector<float>{0.5f, -1.0f, 3.25f, 1e30f});
  auto i32 = f.read_int32("i32");
  CHECK(i32.shape == std::vector<int64_t>{2, 2});
  CHECK(i32.values == std::vector<int32_t>{-1, 2, 2147483647, -2147483647 - 1});
  auto i64 = f.read_int64("i64");
  CHECK(i64.shape.empty());
  CHECK(i64.values == std::vector<int64_t>{int64_t(1) << 40});
  auto u8 = f.read_uint8("u8");
  CHECK(u8.shape == std::vector<int64_t>{3, 1, 2});
  CHECK(u8.values == std::vector<uint8_t>{0, 1, 255, 7, 8, 9});
  auto empty = f.read_double("empty");
  CHECK(empty.shape == std::vector<int64_t>{0, 3});
  CHECK(empty.values.empty());
  CHECK(f.shape("u8") == std::vector<int64_t>{3, 1, 2});
  CHECK(f.shape("i64").empty());
  // The shape-checked overload returns just the values.
  CHECK(f.read<int32_t>("i32", {2, 2}) == i32.values);
}

TEST_CASE("hdf5: reading converts float to double and widens integers", "[hdf5]") {
  TempDir dir;
  const std::string path = dir.file("convert.h5");
  H5File f = H5File::create(path);
  f.write<float>("f32", {0.1f, -3.5f}, {2});
  f.write<int32_t>("i32", {-7, 9}, {2});
  f.write<uint8_t>("u8", {200, 3}, {2});
  auto as_double = f.read_double("f32");
  CHECK(as_double.values == std::vector<double>{double(0.1f), -3.5});
  CHECK(f.read_double("i32").values == std::vector<double>{-7, 9});
  CHECK(f.read_int64("i32").values == std::vector<int64_t>{-7, 9});
  CHECK(f.read_int32("u8").values == std::vector<int32_t>{200, 3});
  CHECK(f.read_float("u8").values == std::vector<float>{200, 3});
}

TEST_CASE("hdf5: conversions that could lose precision are refused, naming the dataset", "[hdf5]") {
  TempDir dir;
  const std::string path = dir.file("lossy.h5");
  H5File f = H5File::create(path);
  f.write<double>("f64", {0.1, 1e300}, {2});
  f.write<int32_t>("i32", {16777217, 1}, {2});  // 2^24 + 1 has no float32
  f.write<int64_t>("i64", {(int64_t(1) << 53) + 1}, {1});
  CHECK_THROWS_WITH(f.read_float("f64"), Contains("f64") && Contains("would round"));
  CHECK_THROWS_WITH(f.read_float("i32"), Contains("i32") && Contains("could round"));
  CHECK_THROWS_WITH(f.read_double("i64"), Contains("i64") && Contains("could round"));
  CHECK(f.read_double("f64").values == std::vector<double>{0.1, 1e300});
}

TEST_CASE("hdf5: nested groups are created on write, exists, listing and removal", "[hdf5]") {
  TempDir dir;
  const std::string path = dir.file("nested.h5");
  {
    H5File f = H5File::create(path);
    f.write<double>("decoder/layers/0/cross_attn/q_proj/weight", {1, 2, 3, 4}, {2, 2});
    f.write<double>("decoder/layers/0/cross_attn/q_proj/bias", {5, 6}, {2});
    f.write<double>("/decoder/layers/1/ffn/fc1/weight", {7}, {1, 1});  // leading '/' is fine
    f.write<int32_t>("ids", {1, 2}, {2});
    f.write_string("meta/name", "tiny");
  }
  H5File f = H5File::open_rw(path);
  CHECK(f.exists("decoder"));
  CHECK(f.exists("decoder/layers/0/cross_attn"));
  CHECK(f.is_group("decoder/layers/0/cross_attn"));
  CHECK(f.is_dataset("decoder/layers/0/cross_attn/q_proj/weight"));
  CHECK_FALSE(f.is_group("ids"));
  CHECK(f.exists("/"));
  CHECK_FALSE(f.exists("decoder/layers/2"));
  CHECK_FALSE(f.exists("nothing/below/here"));
  CHECK_FALSE(f.exists("ids/below_a_dataset"));
  CHECK(f.list_datasets() == std::vector<std::string>{
                                 "decoder/layers/0/cross_attn/q_proj/bias",
                                 "decoder/layers/0/cross_attn/q_proj/weight",
                                 "decoder/layers/1/ffn/fc1/weight",
                                 "ids",
                                 "meta/name",
                             });
  CHECK(f.list_datasets("decoder/layers/1") ==
        std::vector<std::string>{"decoder/layers/1/ffn/fc1/weight"});
  CHECK(f.read_double("decoder/layers/1/ffn/fc1/weight").values == std::vector<double>{7});
  f.remove("decoder/layers/0");
  CHECK_FALSE(f.exists("decoder/layers/0/cross_attn/q_proj/weight"));
  CHECK(f.list_datasets("decoder") == std::vector<std::string>{"decoder/layers/1/ffn/fc1/weight"});
  // After removal the path can be written again.
  f.write<double>("decoder/layers/0/cross_attn/q_proj/bias", {8, 9}, {2});
  CHECK(f.read_double("decoder/layers/0/cross_attn/q_proj/bias").values ==
        std::vector<double>{8, 9});
}

TEST_CASE("hdf5: listing stops at hard-link cycles", "[hdf5]") {
  // Legal in HDF5 and typical of corrupted files: a group linked below itself.
  TempDir dir;
  const std::string path = dir.file("cycle.h5");
  {
    H5File f = H5File::create(path);
    f.write<double>("a/b/x", {1}, {1});
  }
  hid_t raw = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  REQUIRE(raw >= 0);
  REQUIRE(H5Lcreate_hard(raw, "/a", raw, "/a/b/loop", H5P_DEFAULT, H5P_DEFAULT) >= 0);
  H5Fclose(raw);
  H5File f = H5File::open_read(path);
  CHECK(f.list_datasets() == std::vector<std::string>{"a/b/x"});
  CHECK(f.read_double("a/b/loop/b/x").values == std::vector<double>{1});
}

TEST_CASE("hdf5: a shape the file does not store is refused before anything is allocated",
          "[hdf5]") {
  // HDF5 allocates a dataset's storage when it is first written, so a few
  // hundred bytes can declare 2^36 values. Before, read() sized its buffer
  // by the shape and died of std::bad_alloc, naming nothing.
  TempDir dir;
  const std::string path = dir.file("declared.h5");
  {
    H5File f = H5File::create(path);
    f.write<float>("stored", {1, 2, 3}, {3});
  }
  hid_t raw = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  REQUIRE(raw >= 0);
  const hsize_t huge = hsize_t(1) << 36, some = 100;
  for (const auto& [name, dims] : {std::pair{"huge", huge}, std::pair{"unwritten", some}}) {
    const hid_t space = H5Screate_simple(1, &dims, nullptr);
    const hid_t d =
        H5Dcreate2(raw, name, H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    REQUIRE(d >= 0);
    H5Dclose(d);
    H5Sclose(space);
  }
  const hid_t text = H5Tcopy(H5T_C_S1);
  H5Tset_size(text, size_t(1) << 24);
  const hid_t scalar = H5Screate(H5S_SCALAR);
  const hid_t d = H5Dcreate2(raw, "long_text", text, scalar, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  REQUIRE(d >= 0);
  H5Dclose(d);
  H5Sclose(scalar);
  H5Tclose(text);
  H5Fclose(raw);

  H5File f = H5File::open_read(path);
  CHECK(f.read<float>("stored").values == std::vector<float>{1, 2, 3});
  CHECK_THROWS_WITH(f.read<float>("huge"),
                    Contains(path) && Contains("dataset 'huge' has shape (68719476736) "
                                               "(274877906944 bytes) but the file stores 0 "
                                               "bytes of it: the file is damaged"));
  CHECK_THROWS_WITH(f.read<double>("unwritten"),
                    Contains("dataset 'unwritten' has shape (100) (400 bytes) but the file "
                             "stores 0 bytes of it"));
  // A fixed-length string's size is the file's too (up to 4 GiB).
  CHECK_THROWS_WITH(f.read_string("long_text"),
                    Contains("dataset 'long_text' holds a fixed-length string of 16777216 bytes; "
                             "attnlab reads at most 1048576"));
  // With an expected shape, a wrong one is refused first, whatever it claims.
  CHECK_THROWS_WITH(f.read<float>("huge", {3}),
                    Contains("dataset 'huge' has shape (68719476736), expected (3)"));
}

TEST_CASE("hdf5: a global heap whose sizes run past it is refused before HDF5 reads it", "[hdf5]") {
  // String values live in a global heap collection, which has no checksum;
  // HDF5 1.10 copies as many bytes as an object's stored size says. Each case
  // edits the bytes of a valid file, as a damaged disk would.
  TempDir dir;
  const std::string good = dir.file("strings.h5");
  {
    H5File f = H5File::create(good);
    f.set_attribute("/", "note", "a string in the global heap");
    f.set_attribute("/", "other", "and another");
  }
  std::string bytes;
  {
    std::ifstream in(good, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  const size_t heap = bytes.find("GCOL\x01\x00\x00\x00", 0);
  REQUIRE(heap != std::string::npos);
  REQUIRE(bytes.find("GCOL", heap + 1) == std::string::npos);  // one collection
  const size_t first = heap + 16;                              // object 1's header
  REQUIRE(bytes[first] == 1);
  REQUIRE(bytes.compare(first + 16, 27, "a string in the global heap") == 0);
  CHECK(H5File::open_read(good).get_attribute("/", "note") == "a string in the global heap");

  const auto damaged = [&](const std::string& name, size_t at, std::string_view with) {
    std::string copy = bytes;
    copy.replace(at, with.size(), with);
    const std::string path = dir.file(name);
    std::ofstream(path, std::ios::binary) << copy;
    return path;
  };
  // Object 1's size gains 2^40: HDF5 would copy a terabyte.
  const std::string huge = damaged("huge.h5", first + 8 + 5, "\x01");
  CHECK_THROWS_WITH(
      H5File::open_read(huge),
      Contains("file '" + huge + "' is damaged: the global heap at byte " + std::to_string(heap)) &&
          Contains("holds object 1 of 1099511627803 bytes at byte " + std::to_string(first)));
  // A few bytes too many still run past the collection's end when it is the last object.
  const size_t collection_bytes = 4096;
  const size_t tail_room = heap + collection_bytes - first;
  std::string size_bytes(8, '\0');
  for (int i = 0; i < 8; ++i) size_bytes[i] = char(((tail_room - 15) >> (8 * i)) & 0xff);
  CHECK_THROWS_WITH(H5File::open_read(damaged("tail.h5", first + 8, size_bytes)),
                    Contains("holds object 1 of " + std::to_string(tail_room - 15) + " bytes"));
  // The collection itself longer than the file.
  CHECK_THROWS_WITH(H5File::open_read(damaged("collection.h5", heap + 8 + 4, "\x10")),
                    Contains("the global heap at byte " + std::to_string(heap) +
                             " (where HDF5 keeps variable-length strings) says it is"));
  // Shorter than HDF5 ever makes one (4096 -> 256): objects strings refer to are cut off.
  CHECK_THROWS_WITH(H5File::open_read(damaged("short.h5", heap + 8 + 1, "\x01")),
                    Contains("the global heap at byte " + std::to_string(heap) +
                             " (where HDF5 keeps variable-length strings) says it is 256 bytes "
                             "long; HDF5 makes each at least 4096"));
  // A "GCOL" that is not a collection's header (another version byte) is data.
  H5File other = H5File::open_read(damaged("text.h5", first + 16, "GCOL\x02"));
  CHECK(other.get_attribute("/", "other") == "and another");
}

TEST_CASE("hdf5: a string dataset whose reference into the global heap is damaged is refused",
          "[hdf5]") {
  // A string dataset's raw data (no checksum) says where its string is:
  // length, heap address, object index. HDF5 1.10 looks the index up
  // unchecked; a flipped bit made it read far outside the heap.
  TempDir dir;
  const std::string good = dir.file("text.h5");
  {
    H5File f = H5File::create(good);
    f.write_string("kind", "translation");
  }
  haddr_t raw = HADDR_UNDEF;
  {
    const hid_t file = H5Fopen(good.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    const hid_t d = H5Dopen2(file, "kind", H5P_DEFAULT);
    raw = H5Dget_offset(d);
    H5Dclose(d);
    H5Fclose(file);
  }
  REQUIRE(raw != HADDR_UNDEF);
  std::string bytes;
  {
    std::ifstream in(good, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  // The reference: length 11 (4 bytes), the heap's address (8), object index (4).
  REQUIRE(bytes.compare(raw, 4, std::string("\x0b\x00\x00\x00", 4)) == 0);
  const size_t heap = bytes.find("GCOL\x01\x00\x00\x00", 0);
  REQUIRE(heap != std::string::npos);
  REQUIRE(bytes[raw + 4] == char(heap & 0xff));
  CHECK(H5File::open_read(good).read_string("kind") == "translation");

  const auto damaged = [&](const std::string& name, size_t at, char flip) {
    std::string copy = bytes;
    copy[at] = char(copy[at] ^ flip);
    const std::string path = dir.file(name);
    std::ofstream(path, std::ios::binary) << copy;
    return path;
  };
  // The structure walk would already refuse this file (HDF5 dies reading
  // it); without the walk, the check here still does.
  set_structure_walk(false);
  struct WalkBackOn {
    ~WalkBackOn() { set_structure_walk(true); }
  } walk_back_on;
  const std::string index = damaged("index.h5", raw + 13, 0x40);  // object 1 -> 16385
  CHECK_THROWS_WITH(H5File::open_read(index).read_string("kind"),
                    Contains(index +
                             ": dataset 'kind' is damaged: its string (11 bytes, object "
                             "16385 of the global heap at byte " +
                             std::to_string(heap) + ") is not in that heap"));
  const std::string length = damaged("length.h5", raw, 0x04);  // 11 -> 15
  CHECK_THROWS_WITH(H5File::open_read(length).read_string("kind"),
                    Contains("dataset 'kind' is damaged: its string (15 bytes") &&
                        Contains("is stored there with 11 bytes"));
  const std::string address = damaged("address.h5", raw + 4, 0x20);
  CHECK_THROWS_WITH(
      H5File::open_read(address).read_string("kind"),
      Contains("dataset 'kind' is damaged") && Contains("points where no global heap is"));
}

TEST_CASE("hdf5: string datasets and string attributes on root, groups and datasets", "[hdf5]") {
  TempDir dir;
  const std::string path = dir.file("strings.h5");
  {
    H5File f = H5File::create(path);
    f.write_string("config/text", "d_model=8\nnorm=rmsnorm\n");
    f.write_string("empty", "");
    f.write_string("unicode", "caf\xc3\xa9 \xe2\x86\x92 ok");
    f.set_attribute("/", "format", "attnlab-checkpoint");
    f.set_attribute("/", "version", "1");
    f.set_attribute("config", "family", "t5");
    f.write<double>("x", {1}, {1});
    f.set_attribute("x", "unit", "logits");
    f.set_attribute("/", "version", "2");  // replaces
  }
  H5File f = H5File::open_read(path);
  CHECK(f.read_string("config/text") == "d_model=8\nnorm=rmsnorm\n");
  CHECK(f.read_string("empty").empty());
  CHECK(f.read_string("unicode") == "caf\xc3\xa9 \xe2\x86\x92 ok");
  CHECK(f.get_attribute("/", "format") == "attnlab-checkpoint");
  CHECK(f.get_attribute("", "version") == "2");
  CHECK(f.get_attribute("config", "family") == "t5");
  CHECK(f.get_attribute("x", "unit") == "logits");
  CHECK(f.has_attribute("/", "format"));
  CHECK_FALSE(f.has_attribute("config", "format"));
  CHECK(f.attribute_names("/") == std::vector<std::string>{"format", "version"});
  CHECK(f.attribute_names("config") == std::vector<std::string>{"family"});
  CHECK(f.attribute_names("config/text").empty());
}

TEST_CASE("hdf5: H5File is movable and a moved-from file is closed", "[hdf5]") {
  TempDir dir;
  const std::string path = dir.file("move.h5");
  H5File a = H5File::create(path);
  a.write<int64_t>("n", {3}, {});
  H5File b = std::move(a);
  CHECK_FALSE(a.is_open());
  REQUIRE_THROWS_WITH(a.read_int64("n"), Contains("closed"));
  CHECK(b.read_int64("n").values == std::vector<int64_t>{3});
  H5File c = H5File::create(dir.file("other.h5"));
  c = std::move(b);  // closes other.h5, takes over move.h5
  CHECK(c.filename() == path);
  CHECK(c.read_int64("n").values == std::vector<int64_t>{3});
}

TEST_CASE("hdf5: errors name the file, the path and what went wrong", "[hdf5]") {
  TempDir dir;
  const std::string path = dir.file("checkpoint.h5");
  H5File f = H5File::create(path);
  f.write<double>("a/b", std::vector<double>(12, 0.0), {3, 4});
  f.write<float>("a/f", {1.5f}, {1});
  f.write<int64_t>("a/big", {1}, {1});
  f.write_string("a/s", "text");

  REQUIRE_THROWS_AS(f.read_double("decoder/x"), std::runtime_error);
  REQUIRE_THROWS_WITH(f.read_double("decoder/x"),
                      Contains("checkpoint.h5") && Contains("dataset 'decoder/x' not found"));
  REQUIRE_THROWS_WITH(f.shape("a/nope"), Contains("dataset 'a/nope' not found"));
  REQUIRE_THROWS_WITH(
      f.read<double>("a/b", {4, 3}),
      Contains("checkpoint.h5") && Contains("dataset 'a/b' has shape (3,4), expected (4,3)"));
  REQUIRE_THROWS_WITH(f.read<double>("a/b", {}), Contains("expected ()"));
  // Type mismatches.
  REQUIRE_THROWS_WITH(f.read_double("a/s"),
                      Contains("dataset 'a/s' holds strings") && Contains("float64"));
  REQUIRE_THROWS_WITH(f.read_int32("a/f"),
                      Contains("'a/f' holds float32 values") && Contains("truncate"));
  REQUIRE_THROWS_WITH(f.read_int32("a/big"),
                      Contains("'a/big' holds int64 values") && Contains("do not all fit int32"));
  REQUIRE_THROWS_WITH(f.read_uint8("a/big"), Contains("do not all fit uint8"));
  REQUIRE_THROWS_WITH(f.read_string("a/b"),
                      Contains("dataset 'a/b' holds float64 values, not a string"));
  REQUIRE_THROWS_WITH(f.read_double("a"), Contains("'a' is a group, not a dataset"));
  // Writes.
  REQUIRE_THROWS_WITH(f.write<double>("a/b", {1}, {1}), Contains("'a/b' already exists"));
  REQUIRE_THROWS_WITH(f.write<double>("a/b/c", {1}, {1}),
                      Contains("cannot create 'a/b/c': 'a/b' is a dataset, not a group"));
  REQUIRE_THROWS_WITH(f.write<double>("a/short", {1, 2, 3}, {2, 2}),
                      Contains("dataset 'a/short': 3 values do not fill shape (2,2)"));
  REQUIRE_THROWS_WITH(f.write<double>("/", {1}, {1}), Contains("root"));
  REQUIRE_THROWS_WITH(f.write<double>("a//b", {1}, {1}), Contains("empty component"));
  // Attributes.
  REQUIRE_THROWS_WITH(
      f.get_attribute("a", "missing"),
      Contains("checkpoint.h5") && Contains("attribute 'missing' not found on 'a'"));
  REQUIRE_THROWS_WITH(f.get_attribute("nowhere", "x"), Contains("object 'nowhere' not found"));
  REQUIRE_THROWS_WITH(f.set_attribute("nowhere", "x", "y"), Contains("'nowhere' not found"));
  REQUIRE_THROWS_WITH(f.list_datasets("a/b"), Contains("'a/b' is a dataset, not a group"));
  REQUIRE_THROWS_WITH(f.remove("zzz"), Contains("'zzz' not found"));
  // The file still works after all those failures.
  CHECK(f.read<double>("a/b", {3, 4}).size() == 12);
}

TEST_CASE("hdf5: truncated, garbage, empty and missing files are errors, not crashes", "[hdf5]") {
  TempDir dir;
  const std::string good = dir.file("good.h5");
  {
    H5File f = H5File::create(good);
    for (int i = 0; i < 8; ++i)
      f.write<double>("layers/" + std::to_string(i) + "/weight", std::vector<double>(64, i),
                      {8, 8});
  }
  REQUIRE_NOTHROW(H5File::open_read(good));

  const std::string truncated = dir.file("truncated.h5");
  fs::copy_file(good, truncated);
  fs::resize_file(truncated, fs::file_size(good) / 2);
  REQUIRE_THROWS_AS(H5File::open_read(truncated), std::runtime_error);
  REQUIRE_THROWS_WITH(
      H5File::open_read(truncated),
      Contains("truncated.h5") && Contains("is not an HDF5 file or is truncated/corrupted"));
  REQUIRE_THROWS_WITH(H5File::open_rw(truncated), Contains("truncated/corrupted"));

  // Only the superblock survives: still a clean error.
  const std::string stub = dir.file("stub.h5");
  fs::copy_file(good, stub);
  fs::resize_file(stub, 100);
  REQUIRE_THROWS_WITH(H5File::open_read(stub), Contains("truncated/corrupted"));

  const std::string text = dir.file("notes.h5");
  std::ofstream(text) << "this is a text file renamed to .h5\n";
  REQUIRE_THROWS_WITH(
      H5File::open_read(text),
      Contains("file '" + text + "' is not an HDF5 file or is truncated/corrupted"));

  const std::string empty = dir.file("empty.h5");
  std::ofstream{empty};
  REQUIRE_THROWS_WITH(H5File::open_read(empty), Contains("truncated/corrupted"));

  REQUIRE_THROWS_WITH(H5File::open_read(dir.file("missing.h5")),
                      Contains("missing.h5") && Contains("does not exist"));
  REQUIRE_THROWS_WITH(H5File::open_read(dir.path.string()), Contains("is a directory"));
  REQUIRE_THROWS_WITH(H5File::create(dir.file("no_such_dir/x.h5")),
                      Contains("cannot create HDF5 file") && Contains("no_such_dir/x.h5"));
}
