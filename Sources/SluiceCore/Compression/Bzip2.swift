import CSluiceCompression
import Foundation

/// One-shot bzip2 compression and bounded decompression over libbz2.
///
/// Used for `.tar.bz2` packages (v1 format) and the optional `repodata.json.bz2` variant.
public enum Bzip2 {
    /// Compresses `data` into one bzip2 stream.
    ///
    /// - Parameter level: the block size in units of 100 kB, 1...9 (9 is what `bzip2` and conda use).
    /// - Throws: `SluiceError.internalError` when libbz2 fails or `level` is out of range.
    public static func compress(_ data: Data, level: Int32 = 9) throws(SluiceError) -> Data {
        guard (1...9).contains(level) else {
            throw SluiceError(.internalError, "bzip2 level must be 1...9, not \(level).")
        }
        guard data.count < Int(UInt32.max) / 2 else {
            throw SluiceError(.internalError, "bzip2 one-shot compression is limited to 2 GiB of input.")
        }
        // libbz2 documents 1% + 600 bytes as the worst-case expansion.
        let capacity = data.count + data.count / 100 + 600
        var output = [UInt8](repeating: 0, count: capacity)
        var outputLength = UInt32(capacity)
        // libbz2 refuses a NULL source even for zero bytes, so an empty input gets a dummy byte it never reads.
        var input = data.isEmpty ? [0] : [UInt8](data)
        let inputCount = UInt32(data.count)
        let result = input.withUnsafeMutableBytes { source in
            output.withUnsafeMutableBytes { destination in
                BZ2_bzBuffToBuffCompress(
                    destination.baseAddress?.assumingMemoryBound(to: CChar.self), &outputLength,
                    source.baseAddress?.assumingMemoryBound(to: CChar.self), inputCount, level, 0, 0)
            }
        }
        guard result == BZ_OK else {
            throw SluiceError(.internalError, "bzip2 compression failed with code \(result).")
        }
        return Data(output[0..<Int(outputLength)])
    }

    /// Decompresses bzip2 data (one stream or several concatenated, as `pbzip2` writes).
    ///
    /// - Parameter maxOutputSize: the most bytes the output may have; past it decompression stops (bomb guard).
    /// - Throws: `SluiceError.invalidInput` when the data is not bzip2, is corrupt or truncated, or expands to more
    ///   than `maxOutputSize` bytes.
    public static func decompress(_ data: Data, maxOutputSize: Int) throws(SluiceError) -> Data {
        var decompressor = try Bzip2Decompressor()
        return try decompressWhole(data, with: &decompressor, maxOutputSize: maxOutputSize, formatName: "bzip2")
    }
}

/// A streaming bzip2 decoder: ``feed(_:)`` compressed bytes, ``read(upTo:)`` decompressed bytes in bounded pieces,
/// then ``finish()`` to check that the stream ended properly.
///
/// Copies of a value share one libbz2 stream; use each decompressor from one place at a time.
public struct Bzip2Decompressor: StreamingDecompressor {
    private final class State {
        let stream: UnsafeMutablePointer<bz_stream>
        var initialized = false
        var input: [UInt8] = []
        var inputPosition = 0
        /// The current stream reached `BZ_STREAM_END`; more input starts a new concatenated stream.
        var streamEnded = false
        var sawAnyInput = false

        init() {
            stream = .allocate(capacity: 1)
            stream.initialize(to: bz_stream())
        }

        func start() throws(SluiceError) {
            stream.pointee = bz_stream()
            let result = BZ2_bzDecompressInit(stream, 0, 0)
            guard result == BZ_OK else {
                throw SluiceError(.internalError, "Could not start a bzip2 decoder (code \(result)).")
            }
            initialized = true
            streamEnded = false
        }

        func end() {
            if initialized {
                BZ2_bzDecompressEnd(stream)
                initialized = false
            }
        }

        deinit {
            end()
            stream.deinitialize(count: 1)
            stream.deallocate()
        }
    }

    private let state: State

    /// Creates a decoder.
    /// - Throws: `SluiceError.internalError` when libbz2 cannot allocate its state.
    public init() throws(SluiceError) {
        state = State()
        try state.start()
    }

    public mutating func feed(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        state.sawAnyInput = true
        appendPendingInput(bytes, to: &state.input, position: &state.inputPosition)
    }

    /// Decompresses pending input into at most `maxCount` bytes; empty when more input is needed or the data ended.
    /// - Throws: `SluiceError.invalidInput` when the data is not valid bzip2.
    public mutating func read(upTo maxCount: Int) throws(SluiceError) -> [UInt8] {
        let state = self.state
        let capacity = Int(min(UInt32(clamping: max(1, maxCount)), UInt32.max))
        var output = [UInt8](repeating: 0, count: capacity)
        var produced = 0
        var mayHaveBufferedOutput = true
        while produced < capacity {
            let hasInput = state.inputPosition < state.input.count
            if state.streamEnded {
                guard hasInput else { break }
                // Another stream follows (concatenated bzip2, as pbzip2 writes).
                state.end()
                try state.start()
            }
            guard hasInput || mayHaveBufferedOutput else { break }
            let inputCount = state.input.count - state.inputPosition
            let availableIn = UInt32(clamping: inputCount)
            let availableOut = UInt32(capacity - produced)
            let (result, consumed, written) = state.input.withUnsafeMutableBytes { inputBytes in
                output.withUnsafeMutableBytes { outputBytes in
                    let stream = state.stream
                    stream.pointee.next_in = inputBytes.baseAddress.map {
                        ($0 + state.inputPosition).assumingMemoryBound(to: CChar.self)
                    }
                    stream.pointee.avail_in = availableIn
                    stream.pointee.next_out = outputBytes.baseAddress.map {
                        ($0 + produced).assumingMemoryBound(to: CChar.self)
                    }
                    stream.pointee.avail_out = availableOut
                    let result = BZ2_bzDecompress(stream)
                    let consumed = Int(availableIn - stream.pointee.avail_in)
                    let written = Int(availableOut - stream.pointee.avail_out)
                    stream.pointee.next_in = nil
                    stream.pointee.next_out = nil
                    return (result, consumed, written)
                }
            }
            switch result {
            case BZ_OK:
                break
            case BZ_STREAM_END:
                state.streamEnded = true
            case BZ_DATA_ERROR_MAGIC:
                throw .invalidInput("The data is not bzip2 (wrong magic bytes).")
            case BZ_DATA_ERROR:
                throw .invalidInput("The bzip2 data is corrupt (checksum or structure error).")
            case BZ_MEM_ERROR:
                throw SluiceError(.internalError, "bzip2 ran out of memory.")
            default:
                throw .invalidInput("The bzip2 data could not be decoded (code \(result)).")
            }
            state.inputPosition += consumed
            produced += written
            mayHaveBufferedOutput = produced == capacity
            if consumed == 0 && written == 0 && !state.streamEnded { break }
        }
        if state.inputPosition >= state.input.count, !state.input.isEmpty {
            state.input = []
            state.inputPosition = 0
        }
        output.removeSubrange(produced...)
        return output
    }

    /// Checks that all fed data formed complete bzip2 streams.
    /// - Throws: `SluiceError.invalidInput` when no data was fed or the last stream is cut off.
    public func finish() throws(SluiceError) {
        guard state.sawAnyInput else {
            throw .invalidInput("The bzip2 data is empty.")
        }
        guard state.streamEnded, state.inputPosition >= state.input.count else {
            throw .invalidInput("The bzip2 data ends in the middle of a stream; it is truncated.")
        }
    }
}
