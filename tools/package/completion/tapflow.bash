# bash completion for tap, tapflow-replica, tapflow-binlog and tapflow-relay.
# The options offered are the ones the program's own --help prints (so they
# never drift from it); options that take a file complete file names.
_tapflow_complete()
{
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    case $prev in
    --config | --flow | -f | --ssl-ca | --ssl-cert | --ssl-key | --server-public-key-path | --socket)
        mapfile -t COMPREPLY < <(compgen -f -- "$cur")
        return
        ;;
    esac
    if [[ $cur == -* ]]; then
        local help
        help=$("$1" --help 2>&1)
        [[ $1 == tapflow-binlog ]] && help+=$("$1" --stream --help 2>&1)
        mapfile -t COMPREPLY < <(compgen -W "$(grep -oE -- '(^|[[:space:][(|,])--?[a-z][a-z0-9-]*' <<<"$help" |
            grep -oE -- '--?[a-z][a-z0-9-]*' | sort -u)" -- "$cur")
        return
    fi
    if [[ $1 == tapflow-replica && $COMP_CWORD -eq 1 ]]; then
        mapfile -t COMPREPLY < <(compgen -W "status verify" -- "$cur")
        return
    fi
    mapfile -t COMPREPLY < <(compgen -f -- "$cur")
}
complete -F _tapflow_complete tap tapflow-replica tapflow-binlog tapflow-relay
