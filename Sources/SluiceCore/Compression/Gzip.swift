import CSluiceCompression
import Foundation

/// gzip compression over zlib, for `Content-Encoding: gzip` responses (repodata JSON).
public enum Gzip {
    /// Compresses `data` into a gzip member (RFC 1952: header, deflate stream, CRC-32 and size trailer).
    ///
    /// - Parameter level: the deflate level, 0...9 (6 is zlib's default balance of speed and size).
    /// - Throws: `SluiceError.internalError` when zlib fails or `level` is out of range.
    public static func compress(_ data: Data, level: Int32 = 6) throws(SluiceError) -> Data {
        guard (0...9).contains(level) else {
            throw SluiceError(.internalError, "gzip level must be 0...9, not \(level).")
        }
        var stream = z_stream()
        // windowBits 15 + 16 asks zlib for a gzip wrapper instead of a zlib one.
        let initResult = deflateInit2_(
            &stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, zlibVersion(),
            Int32(MemoryLayout<z_stream>.size))
        guard initResult == Z_OK else {
            throw SluiceError(.internalError, "Could not start zlib deflate (code \(initResult)).")
        }
        defer { deflateEnd(&stream) }
        var input = [UInt8](data)
        var output = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var result: Int32 = Z_OK
        input.withUnsafeMutableBufferPointer { source in
            var remaining = source.count
            var offset = 0
            repeat {
                // avail_in is 32-bit; feed huge inputs in slices.
                let slice = min(remaining, Int(UInt32.max / 2))
                stream.next_in = source.baseAddress.map { $0 + offset }
                stream.avail_in = UInt32(slice)
                remaining -= slice
                offset += slice
                let flush = remaining == 0 ? Z_FINISH : Z_NO_FLUSH
                repeat {
                    chunk.withUnsafeMutableBufferPointer { buffer in
                        stream.next_out = buffer.baseAddress
                        stream.avail_out = UInt32(buffer.count)
                        result = deflate(&stream, flush)
                        output.append(contentsOf: buffer[0..<(buffer.count - Int(stream.avail_out))])
                    }
                } while stream.avail_out == 0 && result == Z_OK
            } while remaining > 0 && result == Z_OK
        }
        guard result == Z_STREAM_END else {
            throw SluiceError(.internalError, "zlib deflate failed (code \(result)).")
        }
        return Data(output)
    }
}
