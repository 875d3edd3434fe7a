#---------------------------------*- sh -*-------------------------------------
# RunFunctions: the functions OpenFOAM tutorial Allrun scripts use, for
# installations that do not ship $WM_PROJECT_DIR/bin/tools/RunFunctions
# (Debian's openfoam package). Written for openrescale's worker from the
# functions' documented behaviour; POSIX sh, because Allrun scripts are
# #!/bin/sh (dash on Debian) and source this file.
#
#   runApplication [-a|-append] [-o|-overwrite] [-s|-suffix SFX]
#                  [-decomposeParDict DICT] app [args...]
#       Runs app with output to log.<app>[.SFX]. If that log exists and
#       neither -append nor -overwrite is given, app is not run again (a
#       message says so). Returns app's exit status.
#   runParallel    [the same options] [-n|-np N] app [args...]
#       mpirun -np N app -parallel [args...], log as runApplication. N is
#       -np, else numberOfSubdomains of the -decomposeParDict or of
#       system/decomposeParDict.
#   getApplication         prints 'application' of system/controlDict
#                          (prints "false" and fails if there is none, so
#                          `runApplication $(getApplication)` fails too)
#   getNumberOfProcessors [DICT]   numberOfSubdomains, 1 if none
#   restore0Dir [-processor]       0.orig -> 0 (in processor* with -processor)
#   cloneCase SRC DST              copies 0, 0.orig, constant, system
#   cloneParallelCase SRC DST [TIME...]  copies system, constant, processor*
#   compileApplication DIR         wmake DIR, log in log.wmake
#   isTest [ARGS...]               true if -test is among ARGS
#   isParallel [ARGS...]           true if -parallel is among ARGS
#------------------------------------------------------------------------------

isTest()
{
    for _rf_arg
    do
        [ "$_rf_arg" = "-test" ] && return 0
    done
    return 1
}

isParallel()
{
    for _rf_arg
    do
        [ "$_rf_arg" = "-parallel" ] && return 0
    done
    return 1
}

# _rf_value ENTRY DICT: the value of a top-level 'ENTRY value;' line.
# foamDictionary understands every dictionary syntax; the sed fallback
# covers the plain one when foamDictionary is missing or fails.
_rf_value()
{
    local value
    value=$(foamDictionary -entry "$1" -value "$2" 2>/dev/null)
    if [ -z "$value" ]
    then
        value=$(sed -n "s/^[[:space:]]*$1[[:space:]][[:space:]]*\([^;[:space:]][^;[:space:]]*\)[[:space:]]*;.*/\1/p" "$2" | head -n 1)
    fi
    [ -n "$value" ] && echo "$value"
}

getNumberOfProcessors()
{
    local dict="${1:-system/decomposeParDict}" nProcs=
    case "$dict" in
    */*) ;;
    *) [ -f "$dict" ] || dict="system/$dict" ;;
    esac
    [ -f "$dict" ] && nProcs=$(_rf_value numberOfSubdomains "$dict")
    echo "${nProcs:-1}"
}

getApplication()
{
    local app=
    [ -f system/controlDict ] && app=$(_rf_value application system/controlDict)
    if [ -z "$app" ]
    then
        echo "Error retrieving 'application' from system/controlDict" 1>&2
        echo false
        return 1
    fi
    echo "$app"
}

# _rf_needs_value ARGC FUNC OPTION: fails (with a message) unless the
# option has a value; a bare `shift` past the end would end a dash script.
_rf_needs_value()
{
    if [ "$1" -lt 2 ]
    then
        echo "$2: option $3 needs a value" 1>&2
        return 1
    fi
}

runApplication()
{
    local appRun= appName= logFile= logMode= appArgs=
    while [ "$#" -gt 0 ] && [ -z "$appRun" ]
    do
        case "$1" in
        -a | -append) logMode=append ;;
        -o | -overwrite) logMode=overwrite ;;
        -s | -suffix)
            _rf_needs_value "$#" runApplication "$1" || return 1
            logFile=".$2"; shift ;;
        -decomposeParDict)
            _rf_needs_value "$#" runApplication "$1" || return 1
            case "$2" in
            '' | none | false) ;;
            *) appArgs="$appArgs -decomposeParDict $2" ;;
            esac
            shift ;;
        '') ;;
        *) appRun="$1" ;;
        esac
        shift
    done
    if [ -z "$appRun" ]
    then
        echo "runApplication: no application given" 1>&2
        return 1
    fi
    appName="${appRun##*/}"
    logFile="log.$appName$logFile"

    if [ -f "$logFile" ] && [ -z "$logMode" ]
    then
        echo "$appName already run on $PWD:" \
             "remove log file '$logFile' to re-run"
        return 0
    fi
    echo "Running $appRun on $PWD"
    if [ "$logMode" = append ]
    then
        $appRun $appArgs "$@" >> "$logFile" 2>&1
    else
        $appRun $appArgs "$@" > "$logFile" 2>&1
    fi
}

runParallel()
{
    local appRun= appName= logFile= logMode= appArgs="-parallel" nProcs=
    while [ "$#" -gt 0 ] && [ -z "$appRun" ]
    do
        case "$1" in
        -a | -append) logMode=append ;;
        -o | -overwrite) logMode=overwrite ;;
        -s | -suffix)
            _rf_needs_value "$#" runParallel "$1" || return 1
            logFile=".$2"; shift ;;
        -n | -np)
            _rf_needs_value "$#" runParallel "$1" || return 1
            nProcs="$2"; shift ;;
        -decomposeParDict)
            _rf_needs_value "$#" runParallel "$1" || return 1
            case "$2" in
            '' | none | false) ;;
            *)
                appArgs="$appArgs -decomposeParDict $2"
                [ -n "$nProcs" ] || nProcs=$(getNumberOfProcessors "$2")
                ;;
            esac
            shift ;;
        '') ;;
        *) appRun="$1" ;;
        esac
        shift
    done
    if [ -z "$appRun" ]
    then
        echo "runParallel: no application given" 1>&2
        return 1
    fi
    [ -n "$nProcs" ] || nProcs=$(getNumberOfProcessors system/decomposeParDict)
    appName="${appRun##*/}"
    logFile="log.$appName$logFile"

    if [ -f "$logFile" ] && [ -z "$logMode" ]
    then
        echo "$appName already run on $PWD:" \
             "remove log file '$logFile' to re-run"
        return 0
    fi
    echo "Running $appRun ($nProcs processes) on $PWD"
    if [ "$logMode" = append ]
    then
        mpirun -np "$nProcs" $appRun $appArgs "$@" < /dev/null >> "$logFile" 2>&1
    else
        mpirun -np "$nProcs" $appRun $appArgs "$@" < /dev/null > "$logFile" 2>&1
    fi
}

compileApplication()
{
    echo "Compiling $1 application"
    wmake "$1" > log.wmake 2>&1
}

restore0Dir()
{
    if [ ! -d 0.orig ]
    then
        echo "No 0.orig/ to restore..." 1>&2
        return 0
    fi
    if [ "$1" = "-processor" ]
    then
        echo "Restore 0/ from 0.orig/ for processor directories"
        for _rf_proc in processor*
        do
            [ -d "$_rf_proc" ] || continue
            rm -rf "$_rf_proc/0" && cp -r 0.orig "$_rf_proc/0" || return 1
        done
    else
        echo "Restore 0/ from 0.orig/"
        rm -rf 0 && cp -r 0.orig 0
    fi
}

cloneCase()
{
    if [ "$#" -lt 2 ]
    then
        echo "Usage: cloneCase SRC DST" 1>&2
        return 1
    fi
    if [ -e "$2" ]
    then
        echo "Case already cloned: remove case directory $2 prior to cloning"
        return 1
    fi
    if [ ! -d "$1" ]
    then
        echo "Error: no directory to clone: $1" 1>&2
        return 1
    fi
    echo "Cloning $2 case from $1"
    mkdir -p "$2" || return 1
    for _rf_d in 0 0.orig constant system
    do
        if [ -d "$1/$_rf_d" ]
        then
            cp -r "$1/$_rf_d" "$2" || return 1
        fi
    done
    return 0
}

cloneParallelCase()
{
    if [ "$#" -lt 2 ]
    then
        echo "Usage: cloneParallelCase SRC DST [TIME...]" 1>&2
        return 1
    fi
    local src="$1" dst="$2" proc= pdst=
    shift 2
    if [ -e "$dst" ]
    then
        echo "Case already cloned: remove case directory $dst prior to cloning"
        return 1
    fi
    if [ ! -d "$src" ]
    then
        echo "Error: no directory to clone: $src" 1>&2
        return 1
    fi
    echo "Cloning $dst parallel case from $src"
    mkdir -p "$dst" || return 1
    for _rf_d in constant system
    do
        if [ -d "$src/$_rf_d" ]
        then
            cp -r "$src/$_rf_d" "$dst" || return 1
        fi
    done
    for proc in "$src"/processor*
    do
        [ -d "$proc" ] || continue
        pdst="$dst/${proc##*/}"
        if [ "$#" -eq 0 ]
        then
            cp -r "$proc" "$pdst" || return 1
            continue
        fi
        mkdir -p "$pdst" || return 1
        for _rf_d in constant "$@"
        do
            if [ -d "$proc/$_rf_d" ]
            then
                cp -r "$proc/$_rf_d" "$pdst" || return 1
            fi
        done
    done
    return 0
}

#------------------------------------------------------------------------------
