# The dashboard compiled into otedama_api: web/*.{html,css,js,svg} and the charting library
# (uPlot, installed pinned by scripts/setup.sh into .tools/node_modules) become byte arrays in a
# generated source, so the binary serves them with no files beside it and builds offline.
set(OTEDAMA_WEB_DIR ${CMAKE_SOURCE_DIR}/web)
set(OTEDAMA_WEB_VENDOR_DIR ${CMAKE_SOURCE_DIR}/.tools/node_modules/uplot/dist)
file(GLOB otedama_web_files CONFIGURE_DEPENDS ${OTEDAMA_WEB_DIR}/*.html ${OTEDAMA_WEB_DIR}/*.css
     ${OTEDAMA_WEB_DIR}/*.js ${OTEDAMA_WEB_DIR}/*.svg)
set(otedama_web_vendor ${OTEDAMA_WEB_VENDOR_DIR}/uPlot.iife.min.js ${OTEDAMA_WEB_VENDOR_DIR}/uPlot.min.css)
foreach(f ${otedama_web_vendor})
  if(NOT EXISTS ${f})
    message(FATAL_ERROR "The dashboard's charting library is missing (${f}): run scripts/setup.sh "
                        "(it installs uplot from npm into .tools/, once; the build is offline after that)")
  endif()
endforeach()
set(otedama_web_all ${otedama_web_files} ${otedama_web_vendor})
string(REPLACE ";" "|" otedama_web_arg "${otedama_web_all}")
add_custom_command(
  OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/web_assets.cpp
  COMMAND ${CMAKE_COMMAND} -DOUT=${CMAKE_CURRENT_BINARY_DIR}/web_assets.cpp -DWEB_DIR=${OTEDAMA_WEB_DIR}
          "-DFILES=${otedama_web_arg}" -P ${OTEDAMA_WEB_DIR}/embed.cmake
  DEPENDS ${otedama_web_all} ${OTEDAMA_WEB_DIR}/embed.cmake
  COMMENT "Embedding the dashboard (web/)" VERBATIM)
target_sources(otedama_api PRIVATE ${CMAKE_CURRENT_BINARY_DIR}/web_assets.cpp)
