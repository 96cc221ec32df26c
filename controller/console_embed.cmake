# cmake -DOUT=file.cpp -DDIR=console -P console_embed.cmake: writes a .cpp that holds the bytes of
# each file of DIR and loa::controller::console_assets() listing them by file name (console.hpp).
file(GLOB FILES ${DIR}/*)
list(SORT FILES)
set(decls "")
set(rows "")
set(i 0)
foreach(f ${FILES})
  file(READ ${f} hex HEX)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," hex "${hex}")
  get_filename_component(name ${f} NAME)
  string(APPEND decls "const unsigned char d${i}[] = {${hex}};\n")
  string(APPEND rows "    {\"${name}\", {reinterpret_cast<const char*>(d${i}), sizeof d${i}}},\n")
  math(EXPR i "${i} + 1")
endforeach()
file(WRITE ${OUT}.tmp "// Generated from controller/console/ by console_embed.cmake; do not edit.
#include \"loa/controller/console.hpp\"
namespace {
${decls}}  // namespace
std::span<const loa::controller::ConsoleAsset> loa::controller::console_assets() {
  static const ConsoleAsset assets[] = {
${rows}  };
  return assets;
}
")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
