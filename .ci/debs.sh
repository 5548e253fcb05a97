# Sourced by the .ci/install-*.sh scripts: install_debs NAME PKG... installs the Debian packages
# that are missing (refreshing apt's lists only then) and says so, prefixed with NAME.
install_debs() {
    local name=$1
    shift
    local missing=()
    for pkg in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q '^install ok installed$'; then
            missing+=("$pkg")
        fi
    done
    if ((${#missing[@]})); then
        echo "$name: installing ${missing[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get update -q
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
    else
        echo "$name: Debian packages already installed"
    fi
}
