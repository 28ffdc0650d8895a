# Generates, at build time, the files of the packages that depend on the
# version or on the shipped config: the maintainer scripts (with the SHA-256 of
# agent.toml.example), the RPM flavour of the unit, the gzipped man page and
# the changelogs. Run by packaging.cmake:
#   cmake -DSRC=<packaging dir> -DOUT=<dir> -DCONFIG=<agent.toml.example>
#         -DECA_VERSION=.. -DECA_DEB_VERSION=.. -DECA_RPM_VERSION=..
#         -DECA_PKG_MAINTAINER=.. -DGZIP=<gzip> -P gen-files.cmake
cmake_minimum_required(VERSION 3.25)

foreach(v SRC OUT CONFIG ECA_VERSION ECA_DEB_VERSION ECA_RPM_VERSION ECA_PKG_MAINTAINER GZIP)
  if(NOT DEFINED ${v} OR "${${v}}" STREQUAL "")
    message(FATAL_ERROR "gen-files.cmake: ${v} is not set")
  endif()
endforeach()
if(NOT EXISTS "${CONFIG}")
  message(FATAL_ERROR "gen-files.cmake: ${CONFIG} does not exist: it is shipped as /etc/eca-rotator/agent.toml")
endif()

file(SHA256 "${CONFIG}" ECA_CONFIG_SHA256)

# One line of sysusers.d syntax, fed to `systemd-sysusers --replace=... -`.
file(STRINGS "${SRC}/sysusers.conf" _users REGEX "^u[ \t]")
list(LENGTH _users _n)
if(NOT _n EQUAL 1)
  message(FATAL_ERROR "gen-files.cmake: expected one 'u' line in sysusers.conf, found ${_n}")
endif()
string(REGEX REPLACE "[ \t]+" " " ECA_SYSUSERS_LINE "${_users}")
if(ECA_SYSUSERS_LINE MATCHES "'")
  message(FATAL_ERROR "gen-files.cmake: sysusers.conf must not contain single quotes")
endif()

file(READ "${SRC}/scripts/common.sh" ECA_COMMON)
string(CONFIGURE "${ECA_COMMON}" ECA_COMMON @ONLY)
string(STRIP "${ECA_COMMON}" ECA_COMMON)
file(READ "${SRC}/scripts/setup.sh" ECA_SETUP)
string(CONFIGURE "${ECA_SETUP}" ECA_SETUP @ONLY)
string(STRIP "${ECA_SETUP}" ECA_SETUP)

foreach(pair deb-postinst:deb/postinst deb-prerm:deb/prerm deb-postrm:deb/postrm
             rpm-pre:rpm/pre rpm-post:rpm/post rpm-preun:rpm/preun rpm-postun:rpm/postun)
  string(REPLACE ":" ";" pair "${pair}")
  list(GET pair 0 in)
  list(GET pair 1 out)
  configure_file("${SRC}/scripts/${in}" "${OUT}/${out}" @ONLY)
  file(CHMOD "${OUT}/${out}" FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE
       GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
endforeach()
configure_file("${SRC}/deb/conffiles" "${OUT}/deb/conffiles" COPYONLY)
file(CHMOD "${OUT}/deb/conffiles" FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)

# The unit: Debian reads /etc/default/eca-rotator, RPM systems /etc/sysconfig.
file(READ "${SRC}/eca-rotator.service" _unit)
string(FIND "${_unit}" "EnvironmentFile=-/etc/default/eca-rotator" _at)
if(_at EQUAL -1)
  message(FATAL_ERROR "gen-files.cmake: eca-rotator.service lost its EnvironmentFile= line")
endif()
file(WRITE "${OUT}/deb/eca-rotator.service" "${_unit}")
string(REPLACE "/etc/default/eca-rotator" "/etc/sysconfig/eca-rotator" _unit "${_unit}")
file(WRITE "${OUT}/rpm/eca-rotator.service" "${_unit}")

configure_file("${SRC}/deb/changelog.in" "${OUT}/deb/changelog.Debian" @ONLY)
configure_file("${SRC}/rpm/changelog.in" "${OUT}/rpm/changelog" @ONLY)
configure_file("${SRC}/eca-rotator.8" "${OUT}/eca-rotator.8" @ONLY)

# gzip -9n: maximum compression, no name or time stamp (reproducible; lintian).
foreach(f deb/changelog.Debian eca-rotator.8)
  execute_process(COMMAND "${GZIP}" -9n -c "${OUT}/${f}" OUTPUT_FILE "${OUT}/${f}.gz"
                  RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "gen-files.cmake: gzip ${f} failed: ${rc}")
  endif()
endforeach()
