# Shared by the Debian and RPM maintainer scripts of eca-rotator (POSIX sh).
# packaging/gen-files.cmake pastes it into each script at build time and fills
# in the checksum and the sysusers.d line.

# shellcheck disable=SC2034 # shared by every script, not each uses each value
{
	ECA_USER=eca-rotator
	ECA_CONF=/etc/eca-rotator/agent.toml
	ECA_STATE=/var/lib/eca-rotator
	ECA_UNIT=eca-rotator.service
	# SHA-256 of the shipped example config: while agent.toml still has it, the
	# service is enabled but not started (the example cannot work as it is).
	ECA_CONF_PRISTINE_SHA256=@ECA_CONFIG_SHA256@
}

eca_have() {
	command -v "$1" >/dev/null 2>&1
}

# True when systemd is the running init (false in a chroot or a container
# without systemd): only then may units be started, stopped or reloaded.
eca_systemd_running() {
	[ -d /run/systemd/system ]
}

eca_conf_pristine() {
	[ -f "$ECA_CONF" ] || return 1
	[ "$(sha256sum <"$ECA_CONF" | cut -d' ' -f1)" = "$ECA_CONF_PRISTINE_SHA256" ]
}

eca_not_started_notice() {
	echo "eca-rotator: the service is enabled but not started: edit $ECA_CONF," >&2
	echo "eca-rotator: check it with 'eca-rotator validate', then 'systemctl start eca-rotator'." >&2
}
