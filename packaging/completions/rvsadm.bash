# bash completion for rvsadm(8), the rvs director's ipvsadm-compatible tool.
# Installed as /usr/share/bash-completion/completions/rvsadm.

_rvsadm_services() {
    # Virtual services of the running director, as -t/-u/-f arguments take them.
    rvsadm -S -n 2>/dev/null | awk '$1 == "-A" { print $3 }'
}

_rvsadm_servers() {
    local svc=$1
    rvsadm -S -n 2>/dev/null | awk -v s="$svc" '$1 == "-a" && $3 == s { print $5 }'
}

_rvsadm() {
    local cur prev words cword
    _init_completion || return

    local commands="-A --add-service -E --edit-service -D --delete-service -C --clear
        -R --restore -S --save -a --add-server -e --edit-server -d --delete-server
        -L -l --list -Z --zero --set --start-daemon --stop-daemon -h --help -v --version"
    local options="-t --tcp-service -u --udp-service -f --fwmark-service -6 --ipv6
        -s --scheduler -p --persistent -M --netmask -r --real-server -g --gatewaying
        -i --ipip -m --masquerading --tun-type -w --weight -x --u-threshold
        -y --l-threshold -c --connection --timeout --daemon --stats --rate --exact
        --thresholds --persistent-conn --tun-info --nosort --sort -o --ops -n --numeric
        -b --sched-flags --json --socket --syncid --sync-maxlen --mcast-interface
        --mcast-group --mcast-port --mcast-ttl"

    case $prev in
        -s|--scheduler)
            COMPREPLY=($(compgen -W "rr wrr lc wlc lblc lblcr dh sh sed nq fo ovf mh" -- "$cur"))
            return ;;
        -b|--sched-flags)
            COMPREPLY=($(compgen -W "sh-fallback sh-port mh-fallback mh-port" -- "$cur"))
            return ;;
        --start-daemon|--stop-daemon)
            COMPREPLY=($(compgen -W "master backup" -- "$cur"))
            return ;;
        --tun-type)
            COMPREPLY=($(compgen -W "ipip" -- "$cur"))
            return ;;
        --mcast-interface)
            COMPREPLY=($(compgen -W "$(ls /sys/class/net 2>/dev/null)" -- "$cur"))
            return ;;
        --socket)
            _filedir
            return ;;
        -t|--tcp-service|-u|--udp-service|-f|--fwmark-service)
            COMPREPLY=($(compgen -W "$(_rvsadm_services)" -- "$cur"))
            return ;;
        -r|--real-server)
            local i svc=""
            for ((i = 1; i < cword; i++)); do
                case ${words[i]} in
                    -t|--tcp-service|-u|--udp-service|-f|--fwmark-service) svc=${words[i+1]} ;;
                esac
            done
            [[ -n $svc ]] && COMPREPLY=($(compgen -W "$(_rvsadm_servers "$svc")" -- "$cur"))
            return ;;
        -p|--persistent|-M|--netmask|-w|--weight|-x|--u-threshold|-y|--l-threshold|\
        --syncid|--sync-maxlen|--mcast-group|--mcast-port|--mcast-ttl|--set)
            return ;;
    esac

    if [[ $cword -eq 1 ]]; then
        COMPREPLY=($(compgen -W "$commands" -- "$cur"))
    else
        COMPREPLY=($(compgen -W "$options" -- "$cur"))
    fi
} &&
    complete -F _rvsadm rvsadm
