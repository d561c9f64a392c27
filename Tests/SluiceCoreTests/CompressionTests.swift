import Foundation
import SluiceCore
import SluiceTesting
import Testing

@Suite struct CompressionTests {
    /// Text-like data (compressible) followed by random bytes (incompressible), 300 KiB in all.
    static let sample: Data = {
        var generator = SystemRandomNumberGenerator()
        var bytes = Array(String(repeating: "conda channel gateway repodata ", count: 5000).utf8)
        bytes += (0..<150_000).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return Data(bytes)
    }()

    // MARK: zstd

    @Test(arguments: [(Int32(1), Int32(0)), (3, 0), (19, 0), (19, 2)])
    func zstdRoundTrips(level: Int32, workers: Int32) throws {
        let compressed = try Zstd.compress(Self.sample, level: level, workers: workers)
        #expect(compressed.prefix(4) == Data([0x28, 0xB5, 0x2F, 0xFD]))
        #expect(compressed.count < Self.sample.count)
        #expect(try Zstd.decompress(compressed, maxOutputSize: Self.sample.count) == Self.sample)
        #expect(try Zstd.decompress(Zstd.compress(Data()), maxOutputSize: 0) == Data())
    }

    @Test func zstdDecompressesFramesWithoutContentSize() throws {
        // The 2019 zlib .conda was written by a streaming compressor: its frame header has no content size.
        let url = Fixtures.condaFormatRepo.appendingPathComponent("linux-64/zlib-1.2.11-h7b6447c_3.conda")
        let zip = try ZipReader(file: url)
        let entry = try #require(zip.entry(named: "info-zlib-1.2.11-h7b6447c_3.tar.zst"))
        let frame = try zip.contents(of: entry, maxSize: 1 << 20)
        #expect(frame[4] >> 6 == 0 && frame[4] & 0x20 == 0)  // Frame_Content_Size_flag 0, not single-segment
        let tar = try Zstd.decompress(Data(frame), maxOutputSize: 16 << 20)
        #expect(tar.count % 512 == 0 && tar.count > 7226)
        var reader = TarReader(source: MemoryByteSource(tar))
        #expect(try readAll(&reader).contains { $0.0.path == "info/index.json" })
        // Concatenated frames decode to the concatenation.
        let twice = try Zstd.decompress(Data(frame + frame), maxOutputSize: 2 * tar.count)
        #expect(twice == tar + tar)
    }

    @Test func zstdRefusesBombsCorruptionAndTruncation() throws {
        let zeros = Data(count: 32 << 20)
        let bomb = try Zstd.compress(zeros, level: 3)
        #expect(bomb.count < 8192)
        let error = try #require(throws: SluiceError.self) { try Zstd.decompress(bomb, maxOutputSize: 1 << 20) }
        #expect(error.code == .invalidInput && error.message.contains("bomb"))
        #expect(try Zstd.decompress(bomb, maxOutputSize: 32 << 20).count == 32 << 20)

        let compressed = try Zstd.compress(Self.sample)
        for cut in [compressed.count - 1, compressed.count / 2, 5] {
            #expect(throws: SluiceError.self, "cut \(cut)") {
                try Zstd.decompress(compressed.prefix(cut), maxOutputSize: 1 << 20)
            }
        }
        // Mark the first block with the reserved block type 3 (RFC 8878 §3.1.1.2): the frame header is magic,
        // descriptor, window byte (unless single-segment), dictionary id and content size.
        var corrupt = compressed
        let descriptor = corrupt[4]
        let singleSegment = descriptor & 0x20 != 0
        let contentSizeBytes = [singleSegment ? 1 : 0, 2, 4, 8][Int(descriptor >> 6)]
        let blockHeader = 5 + (singleSegment ? 0 : 1) + [0, 1, 2, 4][Int(descriptor & 3)] + contentSizeBytes
        corrupt[blockHeader] |= 0b110
        let corruptError = try #require(throws: SluiceError.self) {
            try Zstd.decompress(corrupt, maxOutputSize: 1 << 20)
        }
        #expect(corruptError.code == .invalidInput && corruptError.message.contains("corrupt"))
        #expect(throws: SluiceError.self) { try Zstd.decompress(Data("not zstd at all".utf8), maxOutputSize: 100) }
        #expect(throws: SluiceError.self) { try Zstd.decompress(Data(), maxOutputSize: 100) }
    }

    @Test func zstdStreamsInBoundedPieces() throws {
        let compressed = try Zstd.compress(Self.sample)
        var decompressor = try ZstdDecompressor()
        var output: [UInt8] = []
        // Feed one byte at a time and pull at most 1000 bytes per call.
        for byte in compressed {
            decompressor.feed([byte])
            while true {
                let piece = try decompressor.read(upTo: 1000)
                if piece.isEmpty { break }
                #expect(piece.count <= 1000)
                output += piece
            }
        }
        try decompressor.finish()
        #expect(Data(output) == Self.sample)

        var truncated = try ZstdDecompressor()
        truncated.feed(Array(compressed.prefix(compressed.count - 3)))
        while try !truncated.read(upTo: 1 << 20).isEmpty {}
        #expect(throws: SluiceError.self) { try truncated.finish() }
    }

    // MARK: bzip2

    @Test(arguments: [Int32(1), 9])
    func bzip2RoundTrips(level: Int32) throws {
        let compressed = try Bzip2.compress(Self.sample, level: level)
        #expect(compressed.prefix(3) == Data("BZh".utf8))
        #expect(compressed[3] == UInt8(ascii: "0") + UInt8(level))
        #expect(try Bzip2.decompress(compressed, maxOutputSize: Self.sample.count) == Self.sample)
        #expect(try Bzip2.decompress(Bzip2.compress(Data()), maxOutputSize: 0) == Data())
        // Concatenated streams (pbzip2 output) decode to the concatenation.
        let double = try Bzip2.decompress(compressed + compressed, maxOutputSize: 2 * Self.sample.count)
        #expect(double == Self.sample + Self.sample)
    }

    @Test func bzip2DecodesARealPackage() throws {
        let url = Fixtures.condaFormatRepo.appendingPathComponent("osx-64/zlib-1.2.11-h1de35cc_3.tar.bz2")
        let tar = try Bzip2.decompress(try Data(contentsOf: url), maxOutputSize: 64 << 20)
        var reader = TarReader(source: MemoryByteSource(tar))
        let members = try readAll(&reader)
        let index = try #require(members.first { $0.0.path == "info/index.json" })
        #expect(try JSONValue.parse(index.1)["subdir"] == .string("osx-64"))
        #expect(members.contains { $0.0.path.hasPrefix("lib/") })
    }

    @Test func bzip2RefusesBombsCorruptionAndTruncation() throws {
        let bomb = try Bzip2.compress(Data(count: 16 << 20))
        #expect(bomb.count < 8192)
        let error = try #require(throws: SluiceError.self) { try Bzip2.decompress(bomb, maxOutputSize: 1 << 20) }
        #expect(error.code == .invalidInput && error.message.contains("bomb"))

        let compressed = try Bzip2.compress(Self.sample)
        for cut in [compressed.count - 1, compressed.count / 2, 10] {
            #expect(throws: SluiceError.self, "cut \(cut)") {
                try Bzip2.decompress(compressed.prefix(cut), maxOutputSize: 1 << 20)
            }
        }
        var corrupt = compressed
        corrupt[corrupt.count / 3] ^= 0x10
        #expect(throws: SluiceError.self) { try Bzip2.decompress(corrupt, maxOutputSize: 1 << 20) }
        #expect(throws: SluiceError.self) { try Bzip2.decompress(Data("BZh9garbage".utf8), maxOutputSize: 100) }
        #expect(throws: SluiceError.self) { try Bzip2.decompress(Data("plain".utf8), maxOutputSize: 100) }
    }

    @Test func bzip2StreamsInBoundedPieces() throws {
        let compressed = try Bzip2.compress(Self.sample)
        var source = DecompressingSource(
            upstream: MemoryByteSource(compressed), decompressor: try Bzip2Decompressor(), inputChunkSize: 777)
        var output: [UInt8] = []
        while true {
            let piece = try source.read(upTo: 4096)
            if piece.isEmpty { break }
            #expect(piece.count <= 4096)
            output += piece
        }
        #expect(Data(output) == Self.sample)

        var truncated = DecompressingSource(
            upstream: MemoryByteSource(compressed.dropLast(1)), decompressor: try Bzip2Decompressor())
        #expect(throws: SluiceError.self) { while try !truncated.read(upTo: 1 << 20).isEmpty {} }
    }

    // MARK: gzip

    @Test(arguments: [Int32(0), 6, 9])
    func gzipWritesAValidMember(level: Int32) throws {
        let gzip = try Gzip.compress(Self.sample, level: level)
        #expect(gzip.prefix(3) == Data([0x1F, 0x8B, 0x08]))  // magic, deflate
        // The trailer holds the CRC-32 and the length of the input (RFC 1952 §2.3.1).
        let trailer = Array(gzip.suffix(8))
        let crc = UInt32(trailer[0]) | UInt32(trailer[1]) << 8 | UInt32(trailer[2]) << 16 | UInt32(trailer[3]) << 24
        let size = UInt32(trailer[4]) | UInt32(trailer[5]) << 8 | UInt32(trailer[6]) << 16 | UInt32(trailer[7]) << 24
        #expect(crc == ArchiveBuilder.crc32(Array(Self.sample)))
        #expect(size == UInt32(Self.sample.count))
        if level > 0 { #expect(gzip.count < Self.sample.count) }
        // The system gunzip agrees.
        #expect(try gunzip(gzip) == Self.sample)
    }

    private func gunzip(_ data: Data) throws -> Data {
        let directory = try TemporaryDirectory()
        let input = try directory.write("in.gz", data)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["gzip", "-dc", input.path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        return output
    }
}
