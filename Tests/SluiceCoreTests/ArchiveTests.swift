import Foundation
import SluiceCore
import SluiceTesting
import Testing

/// Builders for small tar and zip archives, used to craft the malformed inputs real fixtures cannot provide.
enum ArchiveBuilder {
    enum LongNameStyle { case pax, gnu }

    struct TarMember {
        var path: String
        var type: UInt8 = UInt8(ascii: "0")
        var body: [UInt8] = []
        var linkTarget = ""

        static func file(_ path: String, _ text: String) -> TarMember {
            TarMember(path: path, body: Array(text.utf8))
        }
    }

    /// A ustar archive; paths over 100 bytes get a PAX `path` record or a GNU `L` entry before their header.
    static func tar(_ members: [TarMember], longNames: LongNameStyle = .pax, endBlocks: Int = 2) -> [UInt8] {
        var output: [UInt8] = []
        for member in members {
            var headerName = member.path
            if member.path.utf8.count > 100 {
                switch longNames {
                case .pax:
                    let record = paxRecord("path", member.path)
                    output += tarHeader(name: "PaxHeaders/x", type: UInt8(ascii: "x"), size: record.count)
                    output += padded(record)
                case .gnu:
                    let body = Array(member.path.utf8) + [0]
                    output += tarHeader(name: "././@LongLink", type: UInt8(ascii: "L"), size: body.count)
                    output += padded(body)
                }
                headerName = String(member.path.suffix(90))
            }
            output += tarHeader(
                name: headerName, type: member.type, size: member.body.count, linkTarget: member.linkTarget)
            output += padded(member.body)
        }
        output += [UInt8](repeating: 0, count: 512 * endBlocks)
        return output
    }

    static func paxRecord(_ key: String, _ value: String) -> [UInt8] {
        let payload = " \(key)=\(value)\n"
        var length = payload.utf8.count + 1
        while "\(length)".utf8.count + payload.utf8.count != length { length += 1 }
        return Array("\(length)\(payload)".utf8)
    }

    static func tarHeader(name: String, type: UInt8, size: Int, linkTarget: String = "") -> [UInt8] {
        var header = [UInt8](repeating: 0, count: 512)
        func put(_ text: String, at offset: Int, length: Int) {
            for (index, byte) in text.utf8.prefix(length).enumerated() { header[offset + index] = byte }
        }
        func octal(_ value: Int, at offset: Int, length: Int) {
            put(
                String(String(value, radix: 8).reversed()).padding(toLength: length - 1, withPad: "0", startingAt: 0)
                    .reversed().map(String.init).joined(), at: offset, length: length - 1)
        }
        put(name, at: 0, length: 100)
        octal(0o644, at: 100, length: 8)
        octal(0, at: 108, length: 8)
        octal(0, at: 116, length: 8)
        octal(size, at: 124, length: 12)
        octal(1_700_000_000, at: 136, length: 12)
        header[156] = type
        put(linkTarget, at: 157, length: 100)
        put("ustar", at: 257, length: 6)
        put("00", at: 263, length: 2)
        for index in 148..<156 { header[index] = 0x20 }
        let sum = header.reduce(0) { $0 + Int($1) }
        put(
            String(String(sum, radix: 8).reversed()).padding(toLength: 6, withPad: "0", startingAt: 0)
                .reversed().map(String.init).joined(), at: 148, length: 6)
        header[154] = 0
        header[155] = 0x20
        return header
    }

    static func padded(_ bytes: [UInt8]) -> [UInt8] {
        bytes + [UInt8](repeating: 0, count: (512 - bytes.count % 512) % 512)
    }

    struct ZipMember {
        var name: String
        var data: [UInt8]
        var method: UInt16 = 0
    }

    /// A zip with the given members (their data written as given, whatever `method` says). With `zip64`, the
    /// central directory uses 0xFFFFFFFF placeholders, ZIP64 extra fields, a ZIP64 end record and its locator.
    static func zip(_ members: [ZipMember], zip64: Bool = false) -> [UInt8] {
        var output: [UInt8] = []
        var directory: [UInt8] = []
        for member in members {
            let offset = output.count
            let crc = crc32(member.data)
            let name = Array(member.name.utf8)
            output += le32(0x0403_4b50) + le16(zip64 ? 45 : 20) + le16(0) + le16(member.method) + le16(0) + le16(0x21)
            output += le32(crc) + le32(UInt32(member.data.count)) + le32(UInt32(member.data.count))
            output += le16(UInt16(name.count)) + le16(0) + name + member.data
            var extra: [UInt8] = []
            if zip64 {
                extra =
                    le16(1) + le16(24) + le64(UInt64(member.data.count)) + le64(UInt64(member.data.count))
                    + le64(UInt64(offset))
            }
            let small: (UInt32) -> UInt32 = { zip64 ? 0xFFFF_FFFF : $0 }
            directory += le32(0x0201_4b50) + le16(0x031E) + le16(zip64 ? 45 : 20) + le16(0) + le16(member.method)
            directory += le16(0) + le16(0x21) + le32(crc) + le32(small(UInt32(member.data.count)))
            directory += le32(small(UInt32(member.data.count))) + le16(UInt16(name.count)) + le16(UInt16(extra.count))
            directory += le16(0) + le16(0) + le16(0) + le32(0) + le32(small(UInt32(offset))) + name + extra
        }
        let directoryOffset = output.count
        output += directory
        if zip64 {
            let recordOffset = output.count
            output += le32(0x0606_4b50) + le64(44) + le16(45) + le16(45) + le32(0) + le32(0)
            output += le64(UInt64(members.count)) + le64(UInt64(members.count))
            output += le64(UInt64(directory.count)) + le64(UInt64(directoryOffset))
            output += le32(0x0706_4b50) + le32(0) + le64(UInt64(recordOffset)) + le32(1)
            output += le32(0x0605_4b50) + le16(0) + le16(0) + le16(0xFFFF) + le16(0xFFFF)
            output += le32(0xFFFF_FFFF) + le32(0xFFFF_FFFF) + le16(0)
        } else {
            output += le32(0x0605_4b50) + le16(0) + le16(0) + le16(UInt16(members.count))
            output += le16(UInt16(members.count)) + le32(UInt32(directory.count)) + le32(UInt32(directoryOffset))
            output += le16(0)
        }
        return output
    }

    /// A `.conda` for `stem` whose info tarball holds `infoMembers` (zstd level 3).
    static func conda(stem: String, infoMembers: [TarMember]) throws -> [UInt8] {
        let info = try Zstd.compress(Data(tar(infoMembers)), level: 3)
        let package = try Zstd.compress(Data(tar([])), level: 3)
        return zip([
            ZipMember(name: "metadata.json", data: Array(#"{"conda_pkg_format_version": 2}"#.utf8)),
            ZipMember(name: "pkg-\(stem).tar.zst", data: Array(package)),
            ZipMember(name: "info-\(stem).tar.zst", data: Array(info)),
        ])
    }

    /// A `.tar.bz2` holding `members`.
    static func tarBz2(_ members: [TarMember]) throws -> [UInt8] {
        Array(try Bzip2.compress(Data(tar(members))))
    }

    static func indexJSON(name: String, version: String, build: String, extra: String = "") -> String {
        """
        {"name": "\(name)", "version": "\(version)", "build": "\(build)", "build_number": 0, \
        "subdir": "noarch", "noarch": "generic", "depends": []\(extra)}
        """
    }

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }

    static func le16(_ value: UInt16) -> [UInt8] { [UInt8(value & 0xFF), UInt8(value >> 8)] }
    static func le32(_ value: UInt32) -> [UInt8] { le16(UInt16(value & 0xFFFF)) + le16(UInt16(value >> 16)) }
    static func le64(_ value: UInt64) -> [UInt8] { le32(UInt32(value & 0xFFFF_FFFF)) + le32(UInt32(value >> 32)) }
}

/// A fresh directory under the system temporary directory, removed when the value is released.
final class TemporaryDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-core-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(at: url)
    }

    func write(_ name: String, _ bytes: some Sequence<UInt8>) throws -> URL {
        let file = url.appendingPathComponent(name)
        try Data(bytes).write(to: file)
        return file
    }
}

/// Reads every member of a tar stream into (path, kind, contents) triples.
func readAll<Source: ByteSource>(_ reader: inout TarReader<Source>) throws -> [(TarEntry, [UInt8])] {
    var result: [(TarEntry, [UInt8])] = []
    while let entry = try reader.next() {
        result.append((entry, try reader.readContents(maxSize: 1 << 30)))
    }
    return result
}

@Suite struct ZipReaderTests {
    @Test func readsTheCentralDirectoryOfARealCondaPackage() throws {
        let url = Fixtures.condaFormatRepo.appendingPathComponent("linux-64/zlib-1.2.11-h7b6447c_3.conda")
        let zip = try ZipReader(file: url)
        // Verified with `unzip -lv` (conda-protocol.md §3.2): info, pkg, metadata.json, all stored.
        #expect(
            zip.entries.map(\.name) == [
                "info-zlib-1.2.11-h7b6447c_3.tar.zst", "pkg-zlib-1.2.11-h7b6447c_3.tar.zst", "metadata.json",
            ])
        #expect(zip.entries.map(\.uncompressedSize) == [7226, 98246, 31])
        #expect(zip.entries.allSatisfy { $0.compressionMethod == 0 && !$0.isEncrypted })
        let metadata = try zip.contents(of: try #require(zip.entry(named: "metadata.json")), maxSize: 1024)
        #expect(try JSONValue.parse(metadata)["conda_pkg_format_version"] == .int(2))
        let info = try #require(zip.entry(named: "info-zlib-1.2.11-h7b6447c_3.tar.zst"))
        let range = try zip.dataRange(of: info)
        #expect(range.count == 7226)
        var source = try zip.source(for: info)
        let head = try source.read(upTo: 4)
        #expect(head == [0x28, 0xB5, 0x2F, 0xFD])  // zstd frame magic
    }

    @Test func readsEveryFixtureConda() throws {
        let condas = try Fixtures.allPackages(includingEdgeCases: true).filter { $0.pathExtension == "conda" }
        #expect(condas.count == 67)
        for url in condas {
            let zip = try ZipReader(file: url)
            let stem = String(url.lastPathComponent.dropLast(".conda".count))
            #expect(Set(zip.entries.map(\.name)) == ["metadata.json", "info-\(stem).tar.zst", "pkg-\(stem).tar.zst"])
            for entry in zip.entries {
                let range = try zip.dataRange(of: entry)
                #expect(UInt64(range.count) == entry.compressedSize)
            }
        }
    }

    @Test func readsZip64Directories() throws {
        let directory = try TemporaryDirectory()
        let members = [
            ArchiveBuilder.ZipMember(name: "a.txt", data: Array("alpha".utf8)),
            ArchiveBuilder.ZipMember(name: "dir/b.bin", data: [UInt8](repeating: 7, count: 1000)),
        ]
        let url = try directory.write("z64.zip", ArchiveBuilder.zip(members, zip64: true))
        let zip = try ZipReader(file: url)
        #expect(zip.entries.map(\.name) == ["a.txt", "dir/b.bin"])
        #expect(zip.entries.map(\.compressedSize) == [5, 1000])
        #expect(try zip.contents(of: zip.entries[0], maxSize: 100) == Array("alpha".utf8))
        #expect(try zip.contents(of: zip.entries[1], maxSize: 1000) == [UInt8](repeating: 7, count: 1000))
        #expect(throws: SluiceError.self) { try zip.contents(of: zip.entries[1], maxSize: 999) }
    }

    @Test func refusesCompressedMembers() throws {
        let directory = try TemporaryDirectory()
        let url = try directory.write(
            "deflated.zip", ArchiveBuilder.zip([.init(name: "info.tar.zst", data: [1, 2, 3], method: 8)]))
        let zip = try ZipReader(file: url)
        let error = try #require(throws: SluiceError.self) { try zip.dataRange(of: zip.entries[0]) }
        #expect(error.code == .invalidPackage)
        #expect(error.message.contains("STORED"))
    }

    @Test(arguments: ["../evil.txt", "/etc/passwd", "info/../../evil", "C:/windows"])
    func refusesUnsafeNames(_ name: String) throws {
        let directory = try TemporaryDirectory()
        let url = try directory.write("unsafe.zip", ArchiveBuilder.zip([.init(name: name, data: [1])]))
        let error = try #require(throws: SluiceError.self) { try ZipReader(file: url) }
        #expect(error.code == .invalidPackage)
        #expect(error.message.contains(name))
    }

    @Test func refusesTruncatedAndForeignFiles() throws {
        let directory = try TemporaryDirectory()
        let original = try Data(
            contentsOf: Fixtures.condaFormatRepo.appendingPathComponent("osx-64/zlib-1.2.11-h1de35cc_3.conda"))
        for cut in [original.count - 1, original.count - 30, original.count / 2, 100, 10] {
            let url = try directory.write("cut-\(cut).conda", original.prefix(cut))
            let error = try #require(throws: SluiceError.self) { try ZipReader(file: url) }
            #expect(error.code == .invalidPackage, "cut at \(cut)")
        }
        // A directory that claims more entries than it holds.
        var lying = ArchiveBuilder.zip([.init(name: "a", data: [1])])
        lying[lying.count - 12] = 9
        lying[lying.count - 14] = 9
        let url = try directory.write("lying.zip", lying)
        #expect(throws: SluiceError.self) { try ZipReader(file: url) }
    }
}

@Suite struct TarReaderTests {
    @Test func readsTheInfoTarballOfARealConda() throws {
        let url = Fixtures.condaFormatRepo.appendingPathComponent("linux-64/zlib-1.2.11-h7b6447c_3.conda")
        let zip = try ZipReader(file: url)
        let info = try #require(zip.entry(named: "info-zlib-1.2.11-h7b6447c_3.tar.zst"))
        var reader = TarReader(
            source: DecompressingSource(upstream: try zip.source(for: info), decompressor: try ZstdDecompressor()))
        let members = try readAll(&reader)
        let paths = members.map(\.0.path)
        #expect(paths.contains("info/index.json"))
        #expect(paths.contains("info/paths.json"))
        #expect(paths.allSatisfy { $0.hasPrefix("info/") })
        let index = try #require(members.first { $0.0.path == "info/index.json" })
        let json = try JSONValue.parse(index.1)
        #expect(json["name"] == .string("zlib"))
        #expect(json["timestamp"] == .int(1_542_814_864_621))
    }

    @Test func readsRealTarBz2AndStopsWhenAsked() throws {
        let url = Fixtures.condaFormatRepo.appendingPathComponent("win-64/zlib-1.2.11-h62dcd97_3.tar.bz2")
        var reader = TarReader(
            source: DecompressingSource(upstream: try FileRangeSource(file: url), decompressor: try Bzip2Decompressor())
        )
        let first = try #require(try reader.next())
        #expect(first.path == "info/run_exports.json")
        let contents = try reader.readContents(maxSize: 1024)
        #expect(try JSONValue.parse(contents)["weak"] == .array([.string("zlib >=1.2.11,<1.3.0a0")]))
        // Skips unread data to reach later members.
        var seen: [String] = [first.path]
        while let entry = try reader.next() {
            seen.append(entry.path)
            if entry.path == "info/index.json" { break }
        }
        #expect(
            seen == [
                "info/run_exports.json", "info/hash_input.json", "info/has_prefix", "info/files",
                "info/index.json",
            ])
        let index = try JSONValue.parse(try reader.readContents(maxSize: 4096))
        #expect(index["subdir"] == .string("win-64"))
        // Stopping early reads only part of the decompressed stream.
        #expect(reader.bytesRead < 64 * 1024 + 512)
    }

    @Test(arguments: [ArchiveBuilder.LongNameStyle.pax, .gnu])
    func readsLongNames(_ style: ArchiveBuilder.LongNameStyle) throws {
        let long = "info/" + String(repeating: "deep/", count: 40) + "file.txt"
        let bytes = ArchiveBuilder.tar(
            [
                .file(long, "long"), .file("info/short.txt", "short"),
                .init(path: "lib/link", type: UInt8(ascii: "2"), linkTarget: "libz.so"),
            ],
            longNames: style)
        var reader = TarReader(source: MemoryByteSource(bytes))
        let members = try readAll(&reader)
        #expect(members.map(\.0.path) == [long, "info/short.txt", "lib/link"])
        #expect(members.map { String(decoding: $0.1, as: UTF8.self) } == ["long", "short", ""])
        #expect(members[2].0.kind == .symbolicLink)
        #expect(members[2].0.linkTarget == "libz.so")
    }

    @Test(arguments: ["../evil", "/abs/path", "info/../../evil", "./../evil"])
    func refusesUnsafePaths(_ path: String) throws {
        let bytes = ArchiveBuilder.tar([.file("info/ok", "fine"), .file(path, "bad")])
        var reader = TarReader(source: MemoryByteSource(bytes))
        #expect(try reader.next()?.path == "info/ok")
        let error = try #require(throws: SluiceError.self) { try reader.next() }
        #expect(error.code == .invalidPackage)
        #expect(error.message.contains(path))
    }

    @Test func refusesCorruptAndTruncatedArchives() throws {
        let good = ArchiveBuilder.tar([.file("info/a.json", String(repeating: "x", count: 2000))])
        var corrupt = good
        corrupt[10] ^= 0xFF  // inside the name, so the checksum no longer matches
        var reader = TarReader(source: MemoryByteSource(corrupt))
        #expect(throws: SluiceError.self) { try reader.next() }

        var truncated = TarReader(source: MemoryByteSource(good.prefix(1000)))
        _ = try truncated.next()
        #expect(throws: SluiceError.self) { try truncated.readContents(maxSize: 10_000) }

        var oversized = TarReader(source: MemoryByteSource(good))
        _ = try oversized.next()
        #expect(throws: SluiceError.self) { try oversized.readContents(maxSize: 1999) }

        // A stream that ends cleanly at a member boundary without end blocks is still a complete archive.
        var noEnd = TarReader(source: MemoryByteSource(ArchiveBuilder.tar([.file("a", "b")], endBlocks: 0)))
        #expect(try readAll(&noEnd).map(\.0.path) == ["a"])
    }

    @Test func parsesPAXRecords() throws {
        let body = ArchiveBuilder.paxRecord("path", "a/b") + ArchiveBuilder.paxRecord("mtime", "1.5")
        let bytes =
            [ArchiveBuilder.tarHeader(name: "x", type: UInt8(ascii: "x"), size: body.count)]
            .joined() + ArchiveBuilder.padded(body) + ArchiveBuilder.tar([.file("short", "z")])
        var reader = TarReader(source: MemoryByteSource(bytes))
        #expect(try reader.next()?.path == "a/b")

        let broken = Array("99 path=x\n".utf8)
        let bad =
            ArchiveBuilder.tarHeader(name: "x", type: UInt8(ascii: "x"), size: broken.count)
            + ArchiveBuilder.padded(broken) + ArchiveBuilder.tar([.file("short", "z")])
        var badReader = TarReader(source: MemoryByteSource(bad))
        #expect(throws: SluiceError.self) { try badReader.next() }
    }
}
