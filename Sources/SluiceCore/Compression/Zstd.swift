import CSluiceCompression
import Foundation

/// One-shot zstd compression and bounded decompression over libzstd.
///
/// Used for `.conda` members (`info-*.tar.zst`, `pkg-*.tar.zst`) and the `.zst` variants of repodata and shards.
public enum Zstd {
    /// Compresses `data` into one zstd frame (with its content size recorded).
    ///
    /// - Parameters:
    ///   - level: the compression level, 1...22 (conda producers use 19).
    ///   - workers: the number of worker threads (`ZSTD_c_nbWorkers`); `0` compresses on the calling thread. When
    ///     libzstd was built without thread support, a positive value falls back to single-threaded compression.
    /// - Throws: `SluiceError.internalError` when libzstd refuses the parameters or fails.
    public static func compress(_ data: Data, level: Int32 = 19, workers: Int32 = 0) throws(SluiceError) -> Data {
        guard let context = ZSTD_createCCtx() else {
            throw SluiceError(.internalError, "Could not create a zstd compression context (out of memory?).")
        }
        defer { ZSTD_freeCCtx(context) }
        let levelResult = ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, level)
        if ZSTD_isError(levelResult) != 0 {
            throw SluiceError(
                .internalError, "zstd rejected compression level \(level): \(zstdErrorName(levelResult)).")
        }
        if workers > 0 {
            // Fails only when libzstd lacks multithreading; compressing on this thread is then the right fallback.
            _ = ZSTD_CCtx_setParameter(context, ZSTD_c_nbWorkers, workers)
        }
        let bound = ZSTD_compressBound(data.count)
        var output = [UInt8](repeating: 0, count: bound)
        let written = data.withUnsafeBytes { source in
            output.withUnsafeMutableBytes { destination in
                ZSTD_compress2(context, destination.baseAddress, bound, source.baseAddress, source.count)
            }
        }
        if ZSTD_isError(written) != 0 {
            throw SluiceError(.internalError, "zstd compression failed: \(zstdErrorName(written)).")
        }
        return Data(output[0..<written])
    }

    /// Decompresses one or more concatenated zstd frames, with or without a content size in their headers.
    ///
    /// - Parameter maxOutputSize: the most bytes the output may have; past it decompression stops (bomb guard).
    /// - Throws: `SluiceError.invalidInput` when the data is not zstd, is corrupt or truncated, or expands to more
    ///   than `maxOutputSize` bytes.
    public static func decompress(_ data: Data, maxOutputSize: Int) throws(SluiceError) -> Data {
        var decompressor = try ZstdDecompressor()
        return try decompressWhole(data, with: &decompressor, maxOutputSize: maxOutputSize, formatName: "zstd")
    }
}

func zstdErrorName(_ code: Int) -> String {
    guard let name = ZSTD_getErrorName(code) else { return "error \(code)" }
    return String(cString: name)
}

/// A streaming zstd decoder: ``feed(_:)`` compressed bytes, ``read(upTo:)`` decompressed bytes in bounded pieces,
/// then ``finish()`` to check that the last frame was complete.
///
/// Copies of a value share one libzstd context; use each decompressor from one place at a time.
public struct ZstdDecompressor: StreamingDecompressor {
    private final class State {
        let context: OpaquePointer
        var input: [UInt8] = []
        var inputPosition = 0
        /// The last call filled the output buffer, so libzstd may still hold decoded bytes.
        var mayHaveBufferedOutput = false
        /// The last frame decoded so far ended cleanly (`ZSTD_decompressStream` returned 0).
        var atFrameEnd = false
        var sawAnyInput = false

        init(context: OpaquePointer) { self.context = context }
        deinit { ZSTD_freeDCtx(context) }
    }

    private let state: State

    /// Creates a decoder.
    /// - Throws: `SluiceError.internalError` when libzstd cannot allocate a context.
    public init() throws(SluiceError) {
        guard let context = ZSTD_createDCtx() else {
            throw SluiceError(.internalError, "Could not create a zstd decompression context (out of memory?).")
        }
        // Frames from other producers may use windows up to 2^31; the default limit (2^27) rejects legitimate data
        // from `zstd --long`. Memory stays bounded by the window, not by the output.
        _ = ZSTD_DCtx_setParameter(context, ZSTD_d_windowLogMax, 31)
        state = State(context: context)
    }

    public mutating func feed(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        state.sawAnyInput = true
        appendPendingInput(bytes, to: &state.input, position: &state.inputPosition)
    }

    /// Decompresses pending input into at most `maxCount` bytes; empty when more input is needed or the data ended.
    /// - Throws: `SluiceError.invalidInput` when the data is not valid zstd.
    public mutating func read(upTo maxCount: Int) throws(SluiceError) -> [UInt8] {
        let state = self.state
        var output = [UInt8](repeating: 0, count: max(1, maxCount))
        var produced = 0
        while produced < output.count {
            let hasInput = state.inputPosition < state.input.count
            guard hasInput || state.mayHaveBufferedOutput else { break }
            let outputCapacity = output.count
            let (result, consumed, written) = state.input.withUnsafeBytes { inputBytes in
                output.withUnsafeMutableBytes { outputBytes in
                    var inBuffer = ZSTD_inBuffer(
                        src: inputBytes.baseAddress, size: inputBytes.count, pos: state.inputPosition)
                    var outBuffer = ZSTD_outBuffer(dst: outputBytes.baseAddress, size: outputCapacity, pos: produced)
                    let result = ZSTD_decompressStream(state.context, &outBuffer, &inBuffer)
                    return (result, inBuffer.pos - state.inputPosition, outBuffer.pos - produced)
                }
            }
            if ZSTD_isError(result) != 0 {
                throw .invalidInput("The zstd data is corrupt: \(zstdErrorName(result)).")
            }
            state.inputPosition += consumed
            produced += written
            // A call that did nothing after a frame ended reports the next frame's header size; ignore it.
            if consumed > 0 || written > 0 { state.atFrameEnd = result == 0 }
            // 0 means the frame is complete and fully flushed; otherwise a full buffer may leave bytes inside.
            state.mayHaveBufferedOutput = result != 0 && produced == outputCapacity
            if consumed == 0 && written == 0 { break }
        }
        if state.inputPosition >= state.input.count, !state.input.isEmpty {
            state.input = []
            state.inputPosition = 0
        }
        output.removeSubrange(produced...)
        return output
    }

    /// Checks that all fed data formed complete zstd frames.
    /// - Throws: `SluiceError.invalidInput` when no data was fed or the last frame is cut off.
    public func finish() throws(SluiceError) {
        guard state.sawAnyInput else {
            throw .invalidInput("The zstd data is empty.")
        }
        guard state.atFrameEnd, state.inputPosition >= state.input.count else {
            throw .invalidInput("The zstd data ends in the middle of a frame; it is truncated.")
        }
    }
}
