#include "onnx_graph.h"

#include <cstdint>
#include <cstring>
#include <fstream>
#include <stdexcept>

namespace cntest {
namespace {

// Protobuf wire format: a key (field number << 3 | wire type) then the value; wire type 0 is a
// varint, 2 a length-delimited byte string (strings, bytes and sub-messages).
void varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
void int_field(std::string& out, int field, std::uint64_t v) {
  varint(out, static_cast<std::uint64_t>(field) << 3 | 0);
  varint(out, v);
}
void bytes_field(std::string& out, int field, const std::string& bytes) {
  varint(out, static_cast<std::uint64_t>(field) << 3 | 2);
  varint(out, bytes.size());
  out += bytes;
}

constexpr int kFloat = 1;  // TensorProto.DataType FLOAT

// TensorProto: dims = 1, data_type = 2, name = 8, raw_data = 9 (little-endian float32).
std::string tensor(const std::string& name, const std::vector<std::int64_t>& dims, const std::vector<float>& values) {
  std::string t;
  for (auto d : dims) int_field(t, 1, static_cast<std::uint64_t>(d));
  int_field(t, 2, kFloat);
  bytes_field(t, 8, name);
  std::string raw(values.size() * sizeof(float), '\0');
  std::memcpy(raw.data(), values.data(), raw.size());  // x86/ARM hosts are little-endian
  bytes_field(t, 9, raw);
  return t;
}

// ValueInfoProto {name = 1, type = 2 TypeProto {tensor_type = 1 {elem_type = 1, shape = 2
// TensorShapeProto {dim = 1 {dim_value = 1}}}}}.
std::string value_info(const std::string& name, const std::vector<std::int64_t>& dims) {
  std::string shape;
  for (auto d : dims) {
    std::string dim;
    int_field(dim, 1, static_cast<std::uint64_t>(d));
    bytes_field(shape, 1, dim);
  }
  std::string tensor_type;
  int_field(tensor_type, 1, kFloat);
  bytes_field(tensor_type, 2, shape);
  std::string type;
  bytes_field(type, 1, tensor_type);
  std::string vi;
  bytes_field(vi, 1, name);
  bytes_field(vi, 2, type);
  return vi;
}

}  // namespace

std::string onnx_conv1x1(int in_channels, int out_channels, const std::vector<float>& weights,
                         const std::vector<float>& bias, int height, int width) {
  if (weights.size() != static_cast<size_t>(in_channels * out_channels) || bias.size() != static_cast<size_t>(out_channels))
    throw std::invalid_argument("onnx_conv1x1: weights must be [out, in] and bias [out]");
  // AttributeProto {name = 1, ints = 8, type = 20 (INTS = 7)}: kernel_shape = [1, 1].
  std::string kernel;
  bytes_field(kernel, 1, "kernel_shape");
  int_field(kernel, 8, 1);
  int_field(kernel, 8, 1);
  int_field(kernel, 20, 7);
  // NodeProto {input = 1, output = 2, name = 3, op_type = 4, attribute = 5}.
  std::string node;
  bytes_field(node, 1, "x");
  bytes_field(node, 1, "W");
  bytes_field(node, 1, "B");
  bytes_field(node, 2, "y");
  bytes_field(node, 3, "conv");
  bytes_field(node, 4, "Conv");
  bytes_field(node, 5, kernel);
  // GraphProto {node = 1, name = 2, initializer = 5, input = 11, output = 12}.
  std::string graph;
  bytes_field(graph, 1, node);
  bytes_field(graph, 2, "tiny_conv");
  bytes_field(graph, 5, tensor("W", {out_channels, in_channels, 1, 1}, weights));
  bytes_field(graph, 5, tensor("B", {out_channels}, bias));
  bytes_field(graph, 11, value_info("x", {1, in_channels, height, width}));
  bytes_field(graph, 12, value_info("y", {1, out_channels, height, width}));
  // ModelProto {ir_version = 1, producer_name = 2, graph = 7, opset_import = 8 {version = 2}}.
  std::string opset;
  int_field(opset, 2, 11);
  std::string model;
  int_field(model, 1, 7);
  bytes_field(model, 2, "sdxl-worker tests");
  bytes_field(model, 7, graph);
  bytes_field(model, 8, opset);
  return model;
}

void write_file(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!f) throw std::runtime_error("cannot write " + path.string());
}

}  // namespace cntest
