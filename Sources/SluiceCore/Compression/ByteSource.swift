import Foundation

/// A pull-based stream of bytes: a file range, a decompressor over another source, or bytes in memory.
///
/// The archive readers pull from a `ByteSource` so that they only ever hold a bounded amount of data, however large
/// the package or however far a compressed stream would expand.
public protocol ByteSource {
    /// Reads up to `maxCount` bytes (`maxCount > 0`).
    ///
    /// Returns an empty array only at the end of the stream; otherwise at least one byte.
    /// - Throws: `SluiceError` when the underlying file cannot be read or the stream is corrupt.
    mutating func read(upTo maxCount: Int) throws(SluiceError) -> [UInt8]
}

/// A ``ByteSource`` over bytes already in memory.
public struct MemoryByteSource: ByteSource {
    private let bytes: [UInt8]
    private var position = 0

    /// Creates a source that yields `bytes` in order.
    public init(_ bytes: some Sequence<UInt8>) {
        self.bytes = Array(bytes)
    }

    public mutating func read(upTo maxCount: Int) throws(SluiceError) -> [UInt8] {
        let end = min(bytes.count, position + max(1, maxCount))
        defer { position = end }
        return Array(bytes[position..<end])
    }
}

/// A decompressor fed with compressed bytes that hands back decompressed bytes in bounded pieces.
///
/// Implemented by ``ZstdDecompressor`` and ``Bzip2Decompressor``. Pulling output in pieces (instead of expanding a
/// whole input chunk at once) is what keeps a small, highly compressible input from exhausting memory.
public protocol StreamingDecompressor {
    /// Appends compressed bytes to the pending input.
    mutating func feed(_ bytes: [UInt8])

    /// Decompresses pending input into at most `maxCount` bytes.
    ///
    /// Returns an empty array when all pending input is used up (more must be fed) or the stream has ended.
    /// - Throws: `SluiceError.invalidInput` when the compressed data is corrupt.
    mutating func read(upTo maxCount: Int) throws(SluiceError) -> [UInt8]

    /// Checks that the compressed stream ended properly after the last byte was fed.
    /// - Throws: `SluiceError.invalidInput` when the stream is truncated or empty.
    func finish() throws(SluiceError)
}

/// A ``ByteSource`` that decompresses another source on the fly with a ``StreamingDecompressor``.
public struct DecompressingSource<Upstream: ByteSource, Decompressor: StreamingDecompressor>: ByteSource {
    private var upstream: Upstream
    private var decompressor: Decompressor
    private var upstreamEnded = false
    private var finished = false
    private let inputChunkSize: Int

    /// Creates a source that reads compressed bytes from `upstream` in pieces of `inputChunkSize` bytes.
    public init(upstream: Upstream, decompressor: Decompressor, inputChunkSize: Int = 64 * 1024) {
        self.upstream = upstream
        self.decompressor = decompressor
        self.inputChunkSize = max(1, inputChunkSize)
    }

    /// Reads up to `maxCount` decompressed bytes; empty at the end of the (complete) compressed stream.
    /// - Throws: `SluiceError.invalidInput` when the compressed stream is corrupt or truncated, or whatever the
    ///   upstream source throws.
    public mutating func read(upTo maxCount: Int) throws(SluiceError) -> [UInt8] {
        if finished { return [] }
        while true {
            let output = try decompressor.read(upTo: max(1, maxCount))
            if !output.isEmpty { return output }
            if upstreamEnded {
                try decompressor.finish()
                finished = true
                return []
            }
            let chunk = try upstream.read(upTo: inputChunkSize)
            if chunk.isEmpty {
                upstreamEnded = true
            } else {
                decompressor.feed(chunk)
            }
        }
    }
}

/// Drains a ``StreamingDecompressor`` fed with all of `input`, refusing to produce more than `maxOutputSize` bytes.
func decompressWhole(
    _ input: Data,
    with decompressor: inout some StreamingDecompressor,
    maxOutputSize: Int,
    formatName: String
) throws(SluiceError) -> Data {
    decompressor.feed(Array(input))
    var output = Data()
    while true {
        let room = maxOutputSize - output.count
        let chunk = try decompressor.read(upTo: min(1 << 20, room + 1))
        if chunk.isEmpty { break }
        output.append(contentsOf: chunk)
        if output.count > maxOutputSize {
            throw .invalidInput(
                "The \(formatName) data expands to more than \(maxOutputSize) bytes, the allowed maximum; "
                    + "it is either not what was expected or a decompression bomb.")
        }
    }
    try decompressor.finish()
    return output
}

/// Appends newly fed compressed bytes to a decompressor's pending input, dropping what was already consumed.
///
/// Shared by ``ZstdDecompressor`` and ``Bzip2Decompressor``: `input[position...]` is what the library has not read yet.
func appendPendingInput(_ bytes: [UInt8], to input: inout [UInt8], position: inout Int) {
    if position >= input.count {
        input = bytes
    } else {
        input.removeFirst(position)
        input.append(contentsOf: bytes)
    }
    position = 0
}
