# package.cmake: what `cmake --install` puts under the prefix and what CPack puts in
# tapflow_VERSION_ARCH.deb. The units and the example config are filled in
# here so that their paths are the install's (build with
# -DCMAKE_INSTALL_PREFIX=/usr for the .deb, as tests/integration/package.sh
# does). The state folder, the config file and the system user are made by
# the maintainer scripts (debian/postinst), not installed, so that a
# `cmake --install --prefix DIR` never writes outside DIR.
include(GNUInstallDirs)
# Included by the top CMakeLists.txt after tools/, where the programs are
# defined (and where include(CPack) belongs).
set(TF_PACKAGE_SOURCE_DIR ${CMAKE_CURRENT_LIST_DIR})
set(TF_PACKAGE_BINARY_DIR ${CMAKE_BINARY_DIR}/package)

# The release of tf_version.h ("0.1.0-dev" becomes 0.1.0~dev: it sorts
# before 0.1.0, and a '-' would start a Debian revision).
file(STRINGS ${PROJECT_SOURCE_DIR}/protocol/tf_version.h TF_RELEASE_LINE
     REGEX "^#define TF_RELEASE \"")
string(REGEX REPLACE ".*\"(.*)\".*" "\\1" TF_RELEASE_VERSION "${TF_RELEASE_LINE}")
string(REPLACE "-" "~" CPACK_PACKAGE_VERSION "${TF_RELEASE_VERSION}")

set(TAPFLOW_STATE_DIR "/var/lib/tapflow" CACHE PATH "where installed flows keep their state")
set(TAPFLOW_CONFIG_FILE "/etc/tapflow/tapflow.conf" CACHE FILEPATH
    "the config file of installed services")
set(TAPFLOW_SYSTEMD_UNIT_DIR "lib/systemd/system" CACHE STRING
    "systemd units, relative to the prefix")
set(TAPFLOW_PYTHON_DIR "lib/python3/dist-packages" CACHE STRING
    "the Python SDK, relative to the prefix (Debian's path for python3)")

set(TAPFLOW_UNIT_DIR_FULL "${CMAKE_INSTALL_PREFIX}/${TAPFLOW_SYSTEMD_UNIT_DIR}")
set(TAPFLOW_BIN_DIR_FULL "${CMAKE_INSTALL_FULL_BINDIR}")

# tap finds the flow unit to tell whether it runs flows under systemd.
target_compile_definitions(tap PRIVATE
    TAP_FLOW_UNIT_FILE="${TAPFLOW_UNIT_DIR_FULL}/tapflow-flow@.service"
    TAP_SERVICE_STATE_DIR="${TAPFLOW_STATE_DIR}"
    TAP_SERVICE_CONFIG_FILE="${TAPFLOW_CONFIG_FILE}")

configure_file(${TF_PACKAGE_SOURCE_DIR}/tapflow-flow@.service.in ${TF_PACKAGE_BINARY_DIR}/tapflow-flow@.service @ONLY)
configure_file(${TF_PACKAGE_SOURCE_DIR}/tapflow-relay.service.in ${TF_PACKAGE_BINARY_DIR}/tapflow-relay.service @ONLY)
configure_file(${TF_PACKAGE_SOURCE_DIR}/tapflow.conf.example.in ${TF_PACKAGE_BINARY_DIR}/tapflow.conf.example @ONLY)
configure_file(${TF_PACKAGE_SOURCE_DIR}/debian/postinst.in ${TF_PACKAGE_BINARY_DIR}/debian/postinst @ONLY)
configure_file(${TF_PACKAGE_SOURCE_DIR}/debian/postrm.in ${TF_PACKAGE_BINARY_DIR}/debian/postrm @ONLY)
configure_file(${TF_PACKAGE_SOURCE_DIR}/debian/changelog.in ${TF_PACKAGE_BINARY_DIR}/debian/changelog @ONLY)

install(TARGETS tap tapflow-binlog tapflow-replica tapflow-relay
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${TF_PACKAGE_BINARY_DIR}/tapflow-flow@.service
              ${TF_PACKAGE_BINARY_DIR}/tapflow-relay.service
        DESTINATION ${TAPFLOW_SYSTEMD_UNIT_DIR})
install(FILES ${TF_PACKAGE_BINARY_DIR}/tapflow.conf.example
        DESTINATION ${CMAKE_INSTALL_DATADIR}/tapflow)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/tools/python/tapflow
        DESTINATION ${TAPFLOW_PYTHON_DIR}
        FILES_MATCHING PATTERN "*.py" PATTERN "__pycache__" EXCLUDE)
# bash-completion loads completions/NAME for command NAME: one script, four names.
foreach(program tap tapflow-replica tapflow-binlog tapflow-relay)
  install(FILES ${TF_PACKAGE_SOURCE_DIR}/completion/tapflow.bash
          DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME ${program})
endforeach()

# Man pages: hand-written roff (man/), checked against each program's --help
# by tests/integration/man_pages.sh; installed gzipped as Debian wants them.
find_program(GZIP_EXECUTABLE gzip REQUIRED)
foreach(page tap.1 tapflow-binlog.1 tapflow-replica.8 tapflow-relay.8 tapflow.conf.5)
  string(REGEX REPLACE ".*\\.([0-9])$" "\\1" section ${page})
  add_custom_command(OUTPUT ${TF_PACKAGE_BINARY_DIR}/man/${page}.gz
    COMMAND ${CMAKE_COMMAND} -E make_directory ${TF_PACKAGE_BINARY_DIR}/man
    COMMAND ${GZIP_EXECUTABLE} -9n -c ${TF_PACKAGE_SOURCE_DIR}/man/${page}
            > ${TF_PACKAGE_BINARY_DIR}/man/${page}.gz
    DEPENDS ${TF_PACKAGE_SOURCE_DIR}/man/${page} VERBATIM)
  list(APPEND TAPFLOW_MAN_PAGES ${TF_PACKAGE_BINARY_DIR}/man/${page}.gz)
  install(FILES ${TF_PACKAGE_BINARY_DIR}/man/${page}.gz
          DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section})
endforeach()
add_custom_target(tapflow_man_pages ALL DEPENDS ${TAPFLOW_MAN_PAGES})

# Debian wants a copyright file and a changelog beside every package's docs.
add_custom_command(OUTPUT ${TF_PACKAGE_BINARY_DIR}/changelog.gz
  COMMAND ${GZIP_EXECUTABLE} -9n -c ${TF_PACKAGE_BINARY_DIR}/debian/changelog
          > ${TF_PACKAGE_BINARY_DIR}/changelog.gz
  DEPENDS ${TF_PACKAGE_BINARY_DIR}/debian/changelog VERBATIM)
add_custom_target(debian_changelog ALL DEPENDS ${TF_PACKAGE_BINARY_DIR}/changelog.gz)
install(FILES ${TF_PACKAGE_SOURCE_DIR}/debian/copyright ${TF_PACKAGE_BINARY_DIR}/changelog.gz
        DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/tapflow)

# ---- the .deb (cpack -G DEB) ----
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME tapflow)
set(CPACK_PACKAGE_CONTACT "tapflow maintainers <tapflow@example.org>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "MongoDB wide tables kept in real time from MySQL/MariaDB binlogs")
set(CPACK_PACKAGE_DESCRIPTION
    "tapflow registers with a MySQL or MariaDB server as a replica, decodes its\nrow-based binlog and keeps nested MongoDB documents (one per root row, with\njoined tables embedded) equal to the SQL joins they describe. The package\nhas the daemon, the Tap Shell, the binlog decoder and relay, the Python SDK,\nand systemd units running saved flows as services.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION database)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser, python3")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${TF_PACKAGE_BINARY_DIR}/debian/postinst
    ${TF_PACKAGE_BINARY_DIR}/debian/postrm
    ${TF_PACKAGE_SOURCE_DIR}/debian/prerm)
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
include(CPack)
