#!/usr/bin/env bash
# Makes .gpu/deps: OpenCV (core, imgproc, imgcodecs), oneTBB, Boost.Program_options, GoogleTest
# (its sources),
# nlohmann/json and zlib from this Debian 12 machine's own packages, for building ganaug on a GPU
# machine that has PyTorch's LibTorch but none of Debian's packages (bench/gpu/build.sh).
#   - headers: only those the build includes (from build/compile_commands.json), plus Boost's
#     config folder and the whole small header trees;
#   - libraries: the .so files and what they load, except OpenBLAS (Debian's reference BLAS and
#     LAPACK instead, 8 MB against 43 MB);
#   - GDAL and GDCM, which libopencv_imgcodecs loads for formats ganaug never reads (and which
#     would add ~150 MB of their own dependencies), as stubs whose functions return 0: OpenCV
#     registers no GDAL or DICOM decoder then, and PNG/JPEG/... work as here.
# Usage (repository root, after a normal build in build/): bash bench/gpu/make_deps_bundle.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
D=$root/.gpu/deps
L=/usr/lib/x86_64-linux-gnu
rm -rf "$D"
mkdir -p "$D/include" "$D/lib" "$D/rt" "$D/cmake"
cp "$root"/bench/gpu/cmake/*.cmake "$D/cmake/"

mkdir -p "$D/src" && cp -r /usr/src/googletest "$D/src/"  # built there (cmake/GTestConfig.cmake)
(cd /usr/include && cp -r opencv4 oneapi tbb nlohmann zlib.h "$D/include/" &&
  cp zconf.h "$D/include/")
python3 "$root/bench/gpu/list_headers.py" "$root/build/compile_commands.json" |
  grep '^/usr/include/boost/' | sed 's|^/usr/include/||' |
  (cd /usr/include && tar -cf - -T -) | tar -xf - -C "$D/include"
cp -r /usr/include/boost/config "$D/include/boost/"

(cd $L && cp -P libopencv_core.so.4* libopencv_imgproc.so.4* libopencv_imgcodecs.so.4* \
  libtbb.so.12* libtbbmalloc.so.2* libboost_program_options.so.1.74.0 "$D/lib/")
(cd "$D/lib" && for m in core imgproc imgcodecs; do ln -sf libopencv_$m.so.406 libopencv_$m.so; done &&
  ln -sf libtbb.so.12 libtbb.so && ln -sf libboost_program_options.so.1.74.0 libboost_program_options.so)

# What those libraries load: imgcodecs's own needs but GDAL and GDCM, and all that loads in turn.
direct=$(objdump -p $L/libopencv_imgcodecs.so.406 | awk '/NEEDED/{print $2}' | grep -v -E 'gdal|gdcm')
for s in $direct libopencv_core.so.406 libtbb.so.12 libboost_program_options.so.1.74.0; do
  echo $L/$s
  ldd $L/$s | awk '/=>/{print $3}'
done | xargs -n1 readlink -f | sort -u |
  grep -v -E 'libc\.so|libm\.so|libstdc\+\+|libgcc_s|ld-linux|openblas|libopencv|libtbb|boost' |
  while read -r f; do
    cp "$f" "$D/rt/"
    so=$(objdump -p "$f" | awk '/SONAME/{print $2}')
    [ "$so" != "$(basename "$f")" ] && ln -sf "$(basename "$f")" "$D/rt/$so"
  done
tmp=$(mktemp -d)
(cd "$tmp" && apt-get download libblas3 liblapack3 >/dev/null 2>&1 && for f in *.deb; do dpkg -x "$f" x; done)
for lib in blas lapack; do
  f=$(ls "$tmp"/x/usr/lib/x86_64-linux-gnu/$lib/lib$lib.so.3.*)
  cp "$f" "$D/rt/" && ln -sf "$(basename "$f")" "$D/rt/lib$lib.so.3"
done
cp -P "$D"/rt/libz.so* "$D/lib/" && ln -sf libz.so.1 "$D/lib/libz.so"

# Stubs for GDAL and GDCM: the symbols libopencv_imgcodecs takes from them, returning 0.
nm -D --undefined-only $L/libopencv_imgcodecs.so.406 | awk '{print $2}' | sed 's/@.*//' |
  sort -u >"$tmp/undef"
for lib in libgdal.so.32 libgdcmMSFF.so.3.0 libgdcmDSED.so.3.0; do
  c="$tmp/${lib%%.so*}.c"
  echo "/* stub of $lib for ganaug's GPU build: every function returns 0 */" >"$c"
  n=0
  nm -D --defined-only -S $L/$lib | awk 'NF==4{print $2, $3, $4}' | sort -k3 -u |
    while read -r size type name; do
      grep -qx "$name" "$tmp/undef" || continue
      n=$((n + 1))
      case $type in
        T | W | i) echo "long s$n(void) __asm__(\"$name\"); long s$n(void) { return 0; }" ;;
        *) echo "char s$n[0x$size] __asm__(\"$name\") = {0};" ;;
      esac
    done >>"$c"
  gcc -shared -fPIC -o "$D/rt/$lib" -Wl,-soname,$lib "$c"
done
rm -rf "$tmp"
du -sh "$D"
