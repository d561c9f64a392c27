import CSluiceCompression
import Foundation

/// Bounded one-shot deflate decompression over zlib: raw deflate (zip members, method 8), zlib and gzip streams.
public enum Inflate {
    /// The framing around the deflate data.
    public enum Format: Sendable, Hashable {
        /// Bare deflate data, as in a zip member.
        case raw
        /// A zlib stream (RFC 1950).
        case zlib
        /// A gzip member (RFC 1952).
        case gzip

        var windowBits: Int32 {
            switch self {
            case .raw: -15
            case .zlib: 15
            case .gzip: 15 + 16
            }
        }
    }

    /// Decompresses `data`, refusing to produce more than `maxOutputSize` bytes.
    ///
    /// - Throws: `SluiceError.invalidInput` when the data is not a complete, valid stream of `format` or would
    ///   decompress to more than `maxOutputSize` bytes; `.internalError` when zlib cannot start.
    public static func decompress(
        _ data: some Collection<UInt8>, format: Format = .raw, maxOutputSize: Int
    ) throws(SluiceError) -> [UInt8] {
        var stream = z_stream()
        let initResult = inflateInit2_(&stream, format.windowBits, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard initResult == Z_OK else {
            throw SluiceError(.internalError, "Could not start zlib inflate (code \(initResult)).")
        }
        defer { inflateEnd(&stream) }
        var input = Array(data)
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var result: Int32 = Z_OK
        var tooLarge = false
        input.withUnsafeMutableBufferPointer { source in
            var remaining = source.count
            var offset = 0
            repeat {
                let slice = min(remaining, Int(UInt32.max / 2))
                stream.next_in = source.baseAddress.map { $0 + offset }
                stream.avail_in = UInt32(slice)
                remaining -= slice
                offset += slice
                repeat {
                    chunk.withUnsafeMutableBufferPointer { buffer in
                        stream.next_out = buffer.baseAddress
                        stream.avail_out = UInt32(buffer.count)
                        result = inflate(&stream, Z_NO_FLUSH)
                        let produced = buffer.count - Int(stream.avail_out)
                        if output.count + produced > maxOutputSize {
                            tooLarge = true
                        } else {
                            output.append(contentsOf: buffer[0..<produced])
                        }
                    }
                } while !tooLarge && result == Z_OK && (stream.avail_out == 0 || stream.avail_in > 0)
            } while !tooLarge && remaining > 0 && result == Z_OK
        }
        if tooLarge {
            throw .invalidInput("The compressed data expands to more than \(maxOutputSize) bytes.")
        }
        guard result == Z_STREAM_END else {
            throw .invalidInput(
                "The deflate data is truncated or corrupt (zlib code \(result)).")
        }
        return output
    }
}
