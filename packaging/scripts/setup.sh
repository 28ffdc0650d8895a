# Setup functions of the eca-rotator maintainer scripts (POSIX sh), pasted by
# packaging/gen-files.cmake after common.sh into the scripts that create the
# user and directories: Debian's postinst, RPM's %pre and %post.

# The system user and group, from the same definition as
# /usr/lib/sysusers.d/eca-rotator.conf (which may not be unpacked yet).
eca_create_user() {
	if eca_have systemd-sysusers; then
		printf '%s\n' '@ECA_SYSUSERS_LINE@' |
			systemd-sysusers --replace=/usr/lib/sysusers.d/eca-rotator.conf - ||
			echo "eca-rotator: systemd-sysusers failed; trying useradd" >&2
	fi
	getent passwd "$ECA_USER" >/dev/null 2>&1 && return 0
	eca_nologin=/usr/sbin/nologin
	[ -x "$eca_nologin" ] || eca_nologin=/sbin/nologin
	[ -x "$eca_nologin" ] || eca_nologin=/bin/false
	getent group "$ECA_USER" >/dev/null 2>&1 || groupadd --system "$ECA_USER"
	useradd --system --gid "$ECA_USER" --no-create-home --home-dir "$ECA_STATE" \
		--shell "$eca_nologin" --comment "eca-rotator credential rotation agent" "$ECA_USER"
}

# /var/lib/eca-rotator, 0700 eca-rotator:eca-rotator (tmpfiles.d snippet).
eca_create_dirs() {
	if eca_have systemd-tmpfiles; then
		systemd-tmpfiles --create eca-rotator.conf >/dev/null 2>&1 ||
			echo "eca-rotator: systemd-tmpfiles failed; creating $ECA_STATE directly" >&2
	fi
	if [ ! -d "$ECA_STATE" ] || [ "$(stat -c '%U:%G %a' "$ECA_STATE")" != "$ECA_USER:$ECA_USER 700" ]; then
		mkdir -p "$ECA_STATE"
		chown "$ECA_USER:$ECA_USER" "$ECA_STATE"
		chmod 0700 "$ECA_STATE"
	fi
}

# agent.toml holds no secret in the example but may once edited, and the
# service user must read it: 0640 root:eca-rotator. Only the file as shipped
# is touched, so an administrator's own choice survives upgrades.
eca_fix_conf_perms() {
	if eca_conf_pristine; then
		chown "root:$ECA_USER" "$ECA_CONF"
		chmod 0640 "$ECA_CONF"
	fi
}
