# qcc.cmake - compile an ONNX model into a static C library with qcc.
#
#   qcc_add_model(<target> <model.onnx> <calib.npy|npz>
#                 [NAME <name>] [TARGET_ARCH hvx-like|generic-c])
#
# Runs ${QCC_EXECUTABLE} (set it, or have `qcc` on PATH) as
#   qcc MODEL --calib CALIB --target ARCH --name NAME -o <bin>/qcc_<target>/NAME.c --depfile ...
# and adds the static library <target> (NAME.c) whose include directory holds NAME.h
# (qcc_NAME_run / qcc_NAME_run_f32, see DESIGN.md "Emitted C API"). The depfile lists the
# model, its external data files and the calibration data, so editing any of them reruns qcc.
# NAME defaults to <target>, TARGET_ARCH to hvx-like.
include_guard(GLOBAL)

function(qcc_add_model tgt model calib)
  cmake_parse_arguments(Q "" "NAME;TARGET_ARCH" "" ${ARGN})
  if(Q_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "qcc_add_model: unexpected arguments ${Q_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT QCC_EXECUTABLE)
    find_program(QCC_EXECUTABLE qcc)
  endif()
  if(NOT QCC_EXECUTABLE)
    message(FATAL_ERROR "qcc_add_model: set QCC_EXECUTABLE to the qcc binary")
  endif()
  if(NOT Q_NAME)
    set(Q_NAME ${tgt})
  endif()
  if(NOT Q_TARGET_ARCH)
    set(Q_TARGET_ARCH hvx-like)
  endif()
  if(NOT Q_TARGET_ARCH MATCHES "^(hvx-like|generic-c)$")
    message(FATAL_ERROR "qcc_add_model: TARGET_ARCH must be hvx-like or generic-c, got ${Q_TARGET_ARCH}")
  endif()
  get_filename_component(model "${model}" ABSOLUTE)
  get_filename_component(calib "${calib}" ABSOLUTE)
  set(dir "${CMAKE_CURRENT_BINARY_DIR}/qcc_${tgt}")
  set(src "${dir}/${Q_NAME}.c")
  set(hdr "${dir}/${Q_NAME}.h")
  file(MAKE_DIRECTORY "${dir}")
  add_custom_command(
    OUTPUT "${src}" "${hdr}"
    COMMAND "${QCC_EXECUTABLE}" "${model}" --calib "${calib}" --target ${Q_TARGET_ARCH}
            --name ${Q_NAME} -o "${src}" --depfile "${dir}/${Q_NAME}.d"
    DEPENDS "${model}" "${calib}" "${QCC_EXECUTABLE}"
    DEPFILE "${dir}/${Q_NAME}.d"
    COMMENT "qcc: ${model} -> ${Q_NAME}.c (${Q_TARGET_ARCH})"
    VERBATIM)
  add_library(${tgt} STATIC "${src}" "${hdr}")
  target_include_directories(${tgt} PUBLIC "${dir}")
  set_target_properties(${tgt} PROPERTIES C_STANDARD 99 C_STANDARD_REQUIRED ON C_EXTENSIONS OFF)
endfunction()
