#ifndef CSLUICE_COMPRESSION_SHIM_H
#define CSLUICE_COMPRESSION_SHIM_H
#include <zstd.h>
#include <bzlib.h>
#include <zlib.h>
#endif
