# Packages of eca-rotator: .deb and .rpm with CPack (see packaging/README.md).
#
#   cmake -S . -B build-pkg -G Ninja -DECA_BUILD_TESTS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo
#   cmake --build build-pkg --target packages
#
# writes build-pkg/dist/eca-rotator_<version>-<release>_<arch>.deb and
# build-pkg/dist/eca-rotator-<version>-<release>.<arch>.rpm.
# Included by the top-level CMakeLists.txt after the eca-rotator target.

option(ECA_PACKAGING "Add the 'packages' target (.deb and .rpm)" ${_top})
if(NOT ECA_PACKAGING OR NOT CMAKE_SYSTEM_NAME STREQUAL "Linux")
  return()
endif()

set(ECA_PKG_RELEASE "1" CACHE STRING "Package release (Debian revision, RPM Release)")
set(ECA_PKG_MAINTAINER "eca-rotator authors <eca-rotator@example.org>"
    CACHE STRING "Maintainer recorded in the packages: Name <address>")
set(ECA_PKG_HOMEPAGE "" CACHE STRING "Homepage recorded in the packages (optional)")

set(_pkg_src "${CMAKE_CURRENT_LIST_DIR}")
set(_pkg_out "${CMAKE_BINARY_DIR}/packaging")
set(_pkg_deb_version "${PROJECT_VERSION}-${ECA_PKG_RELEASE}")
set(_pkg_rpm_version "${PROJECT_VERSION}-${ECA_PKG_RELEASE}")

# The packaged binary gets full RELRO (lintian checks for it); Debian's and
# Fedora's compilers already default to PIE.
target_link_options(eca-rotator PRIVATE LINKER:-z,relro LINKER:-z,now)

# --- Files generated at build time ------------------------------------------
find_program(ECA_GZIP gzip REQUIRED)
set(_pkg_generated
    ${_pkg_out}/deb/postinst ${_pkg_out}/deb/prerm ${_pkg_out}/deb/postrm
    ${_pkg_out}/deb/conffiles ${_pkg_out}/deb/eca-rotator.service
    ${_pkg_out}/deb/changelog.Debian.gz
    ${_pkg_out}/rpm/pre ${_pkg_out}/rpm/post ${_pkg_out}/rpm/preun ${_pkg_out}/rpm/postun
    ${_pkg_out}/rpm/eca-rotator.service ${_pkg_out}/rpm/changelog
    ${_pkg_out}/eca-rotator.8.gz)
file(GLOB _pkg_scripts CONFIGURE_DEPENDS "${_pkg_src}/scripts/*")
add_custom_command(
  OUTPUT ${_pkg_generated}
  COMMAND ${CMAKE_COMMAND} -DSRC=${_pkg_src} -DOUT=${_pkg_out}
          -DCONFIG=${CMAKE_SOURCE_DIR}/agent.toml.example
          -DECA_VERSION=${PROJECT_VERSION} -DECA_DEB_VERSION=${_pkg_deb_version}
          -DECA_RPM_VERSION=${_pkg_rpm_version} -DECA_PKG_MAINTAINER=${ECA_PKG_MAINTAINER}
          -DGZIP=${ECA_GZIP} -P ${_pkg_src}/gen-files.cmake
  DEPENDS ${_pkg_src}/gen-files.cmake ${_pkg_scripts} ${_pkg_src}/eca-rotator.8
          ${_pkg_src}/eca-rotator.service ${_pkg_src}/sysusers.conf
          ${_pkg_src}/deb/changelog.in ${_pkg_src}/deb/conffiles ${_pkg_src}/rpm/changelog.in
          ${CMAKE_SOURCE_DIR}/agent.toml.example
  COMMENT "Generating maintainer scripts, unit, man page and changelogs for the packages"
  VERBATIM)
# Not part of ALL: everyday builds should not depend on packaging. Use the
# 'packages' target below (plain `cpack` after a plain build lacks these files).
add_custom_target(eca-package-files DEPENDS ${_pkg_generated})

# --- Install rules for the packages ------------------------------------------
# Only CPack's DEB and RPM runs install these (a plain `cmake --install` puts
# just the binary under its prefix): the layout differs per format
# (/etc/default vs /etc/sysconfig, Debian's copyright and changelog vs %license).
# cpack-config.cmake (CPACK_PROJECT_CONFIG_FILE, read by cpack once per
# generator) tells the install script which one runs through the environment:
# the install script does not see CPack's variables. DESTDIR is the staging
# directory; CPack's DEB and RPM generators set it.
install(CODE "set(_eca_pkg_out \"${_pkg_out}\")\nset(_eca_pkg_src \"${_pkg_src}\")\nset(_eca_config \"${CMAKE_SOURCE_DIR}/agent.toml.example\")\nset(_eca_strip \"${CMAKE_STRIP}\")")
install(CODE [[
  set(_eca_flavour "$ENV{ECA_PKG_FLAVOUR}")
  if(_eca_flavour)
    set(_r OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
    # Strip as Debian's dh_strip does (the .comment section is only noise).
    execute_process(COMMAND "${_eca_strip}" --remove-section=.comment --remove-section=.note
                            --strip-unneeded "$ENV{DESTDIR}/usr/bin/eca-rotator"
                    RESULT_VARIABLE _rc)
    if(NOT _rc EQUAL 0)
      message(FATAL_ERROR "strip $ENV{DESTDIR}/usr/bin/eca-rotator failed: ${_rc}")
    endif()
    set(_d DIR_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
           WORLD_READ WORLD_EXECUTE)
    file(INSTALL "${_eca_config}" DESTINATION /etc/eca-rotator RENAME agent.toml
         PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ)
    file(MAKE_DIRECTORY "$ENV{DESTDIR}/etc/eca-rotator/conf.d")
    file(INSTALL "${_eca_pkg_out}/${_eca_flavour}/eca-rotator.service"
         DESTINATION /usr/lib/systemd/system PERMISSIONS ${_r})
    file(INSTALL "${_eca_pkg_src}/sysusers.conf" DESTINATION /usr/lib/sysusers.d
         RENAME eca-rotator.conf PERMISSIONS ${_r})
    file(INSTALL "${_eca_pkg_src}/tmpfiles.conf" DESTINATION /usr/lib/tmpfiles.d
         RENAME eca-rotator.conf PERMISSIONS ${_r})
    file(INSTALL "${_eca_pkg_out}/eca-rotator.8.gz" DESTINATION /usr/share/man/man8
         PERMISSIONS ${_r})
    if(_eca_flavour STREQUAL "deb")
      file(INSTALL "${_eca_pkg_src}/environment" DESTINATION /etc/default
           RENAME eca-rotator PERMISSIONS ${_r})
      file(INSTALL "${_eca_pkg_src}/deb/copyright" "${_eca_pkg_out}/deb/changelog.Debian.gz"
           DESTINATION /usr/share/doc/eca-rotator PERMISSIONS ${_r})
      file(INSTALL "${_eca_pkg_src}/deb/lintian-overrides" DESTINATION /usr/share/lintian/overrides
           RENAME eca-rotator PERMISSIONS ${_r})
    else()
      file(INSTALL "${_eca_pkg_src}/environment" DESTINATION /etc/sysconfig
           RENAME eca-rotator PERMISSIONS ${_r})
      file(INSTALL "${_eca_pkg_src}/LICENSE" DESTINATION /usr/share/licenses/eca-rotator
           PERMISSIONS ${_r})
    endif()
    # file(MAKE_DIRECTORY) follows the umask; the packages want 0755 directories.
    file(GLOB_RECURSE _dirs LIST_DIRECTORIES true "$ENV{DESTDIR}/*")
    foreach(_dir IN LISTS _dirs)
      if(IS_DIRECTORY "${_dir}" AND NOT IS_SYMLINK "${_dir}")
        file(CHMOD "${_dir}" DIRECTORY_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE
             GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
      endif()
    endforeach()
  endif()
]])

# --- CPack --------------------------------------------------------------------
set(CPACK_GENERATOR "DEB;RPM")
set(CPACK_PACKAGE_NAME "eca-rotator")
set(CPACK_PACKAGE_VENDOR "eca-rotator authors")
set(CPACK_PACKAGE_CONTACT "${ECA_PKG_MAINTAINER}")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "rotates Salesforce External Client App credentials into Infisical")
set(CPACK_PACKAGE_DESCRIPTION
    "eca-rotator keeps the OAuth consumer keys and secrets of Salesforce External
Client Apps fresh. It rotates them on a schedule, dual-phase so that the
previous credential keeps working, and publishes each new pair to an Infisical
project, sealed with libsodium on the machine before it is sent. Every step is
journaled, encrypted, so that an interrupted rotation is completed later.

The package contains the agent, a hardened systemd service running as the
eca-rotator system user, and an example configuration in /etc/eca-rotator.")
set(CPACK_RESOURCE_FILE_LICENSE "${_pkg_src}/LICENSE")
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
set(CPACK_PROJECT_CONFIG_FILE "${_pkg_src}/cpack-config.cmake")
set(CPACK_OUTPUT_FILE_PREFIX "${CMAKE_BINARY_DIR}/dist")
set(CPACK_THREADS 1)

# Debian
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE "${ECA_PKG_RELEASE}")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${ECA_PKG_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION "admin")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
if(ECA_PKG_HOMEPAGE)
  set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "${ECA_PKG_HOMEPAGE}")
endif()
# dpkg-shlibdeps: libc6, libcurl4, libsodium23, libtomlplusplus3, libstdc++6, ...
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# The maintainer scripts use useradd/groupadd (passwd) when systemd-sysusers
# is missing; ExecReload= runs /bin/kill (procps); TLS needs the CA bundle.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "passwd, procps")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "ca-certificates, systemd")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${_pkg_out}/deb/conffiles;${_pkg_out}/deb/postinst;${_pkg_out}/deb/prerm;${_pkg_out}/deb/postrm")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_COMPRESSION_TYPE "xz")

# RPM
set(CPACK_RPM_FILE_NAME RPM-DEFAULT)
set(CPACK_RPM_PACKAGE_RELEASE "${ECA_PKG_RELEASE}")
set(CPACK_RPM_PACKAGE_LICENSE "MIT")
set(CPACK_RPM_PACKAGE_GROUP "System Environment/Daemons")
set(CPACK_RPM_PACKAGE_DESCRIPTION "${CPACK_PACKAGE_DESCRIPTION}")
set(CPACK_RPM_PACKAGE_SUMMARY "Rotates Salesforce External Client App credentials into Infisical")
if(ECA_PKG_HOMEPAGE)
  set(CPACK_RPM_PACKAGE_URL "${ECA_PKG_HOMEPAGE}")
endif()
# Library requirements (libcurl.so.4()(64bit), libsodium.so.23()(64bit),
# libtomlplusplus.so.3()(64bit), libstdc++, libc) come from rpmbuild's
# automatic dependency generator; the scriptlets need these tools.
set(CPACK_RPM_PACKAGE_AUTOREQ ON)
set(CPACK_RPM_PACKAGE_AUTOPROV OFF)
set(CPACK_RPM_PACKAGE_REQUIRES_PRE "/usr/sbin/useradd, /usr/sbin/groupadd, /usr/bin/getent")
set(CPACK_RPM_PACKAGE_REQUIRES "ca-certificates")
set(CPACK_RPM_CHANGELOG_FILE "${_pkg_out}/rpm/changelog")
set(CPACK_RPM_PRE_INSTALL_SCRIPT_FILE "${_pkg_out}/rpm/pre")
set(CPACK_RPM_POST_INSTALL_SCRIPT_FILE "${_pkg_out}/rpm/post")
set(CPACK_RPM_PRE_UNINSTALL_SCRIPT_FILE "${_pkg_out}/rpm/preun")
set(CPACK_RPM_POST_UNINSTALL_SCRIPT_FILE "${_pkg_out}/rpm/postun")
set(CPACK_RPM_USER_FILELIST
    "%config(noreplace) %attr(0640,root,eca-rotator) /etc/eca-rotator/agent.toml"
    "%config(noreplace) /etc/sysconfig/eca-rotator"
    "%doc /usr/share/man/man8/eca-rotator.8.gz"
    "%license /usr/share/licenses/eca-rotator/LICENSE")
# The package owns /etc/eca-rotator, its conf.d/ and its license directory,
# never directories that other packages share.
set(CPACK_RPM_EXCLUDE_FROM_AUTO_FILELIST_ADDITION
    /etc/sysconfig /usr/lib/systemd /usr/lib/systemd/system /usr/lib/sysusers.d
    /usr/lib/tmpfiles.d /usr/share/man /usr/share/man/man8 /usr/share/licenses)
set(CPACK_RPM_DEBUGINFO_PACKAGE OFF)
set(CPACK_RPM_PACKAGE_RELOCATABLE OFF)
set(CPACK_PACKAGE_RELOCATABLE OFF)
set(CPACK_RPM_SPEC_MORE_DEFINE "%define _build_id_links none\n%define packager ${ECA_PKG_MAINTAINER}")

include(CPack)

# --- The one command -----------------------------------------------------------
add_custom_target(packages
  COMMAND ${CMAKE_COMMAND} -E rm -rf ${CMAKE_BINARY_DIR}/dist ${CMAKE_BINARY_DIR}/_CPack_Packages
  COMMAND sh ${_pkg_src}/check-tools.sh
  # umask 022: CPack copies the staging directory's modes into the packages.
  COMMAND sh -c "umask 022 && exec \"$0\" -G \"DEB;RPM\" --config \"$1\"" ${CMAKE_CPACK_COMMAND}
          ${CMAKE_BINARY_DIR}/CPackConfig.cmake
  COMMAND sh -c "ls -l \"$0\"/*.deb \"$0\"/*.rpm" ${CMAKE_BINARY_DIR}/dist
  WORKING_DIRECTORY ${CMAKE_BINARY_DIR}
  DEPENDS eca-rotator eca-package-files
  COMMENT "Building the .deb and .rpm packages into ${CMAKE_BINARY_DIR}/dist"
  VERBATIM)
