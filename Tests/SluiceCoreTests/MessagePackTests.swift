import Crypto
import Foundation
import SluiceCore
import SluiceTesting
import Testing

@Suite("MessagePack reader and writer")
struct MessagePackTests {
    static let shardFixtures = Fixtures.repodata("cep16-shards")
    static let linux64 = Fixtures.condaFormatRepo.appendingPathComponent("linux-64")
    static let zlibShard = "56a0c19b47ba1a2d0f1390eda489b1c49a00d35814571057e6d81e0c93dfd157"
    static let libgccShard = "2dcdacf7009b4f1c21f452c5079384340257e0e1cbecb8ec484984d1fa85b115"

    static func encode(_ body: (inout MessagePackWriter) -> Void) -> [UInt8] {
        var writer = MessagePackWriter()
        body(&writer)
        return writer.bytes
    }

    // MARK: Real data written by conda-index

    @Test("The real shard index decodes with binary hashes that name the real shard files")
    func realShardIndex() throws {
        let raw = try Data(contentsOf: Self.shardFixtures.appendingPathComponent("repodata_shards.msgpack"))
        let compressed = try Data(contentsOf: Self.linux64.appendingPathComponent("repodata_shards.msgpack.zst"))
        #expect(try Zstd.decompress(compressed, maxOutputSize: 1 << 20) == raw)

        let index = try MessagePackReader.decode(raw)
        #expect(Set(try #require(index.mapValue).keys) == ["info", "version", "shards"])
        #expect(index["version"] == .int(1))
        #expect(
            index["info"]
                == .map(["base_url": .string(""), "shards_base_url": .string(""), "subdir": .string("linux-64")]))
        let shards = try #require(index["shards"]?.mapValue)
        #expect(Set(shards.keys) == ["libgcc-ng", "zlib"])
        for (name, file) in [("zlib", Self.zlibShard), ("libgcc-ng", Self.libgccShard)] {
            let hash = try #require(shards[name]?.binaryValue, "\(name) must be msgpack bin")
            #expect(hash.count == 32)
            #expect(HexCoding.encode(hash) == file)
            // The file of that name exists and hashes to its name (sha256 of the compressed bytes).
            let bytes = try Data(contentsOf: Self.linux64.appendingPathComponent(file + ".msgpack.zst"))
            #expect(HexCoding.encode(Self.sha256(bytes)) == file)
        }
    }

    @Test("The real shards decode to exactly the repodata.json records of their name")
    func realShards() throws {
        let repodata = try JSONValue.parse(try Data(contentsOf: Self.linux64.appendingPathComponent("repodata.json")))
        for (name, file) in [("zlib", Self.zlibShard), ("libgcc-ng", Self.libgccShard)] {
            let raw = try Data(contentsOf: Self.shardFixtures.appendingPathComponent(file + ".msgpack"))
            let compressed = try Data(contentsOf: Self.linux64.appendingPathComponent(file + ".msgpack.zst"))
            #expect(try Zstd.decompress(compressed, maxOutputSize: 1 << 20) == raw)
            let shard = try MessagePackReader.decode(raw)
            for key in ["packages", "packages.conda"] {
                let expected = (repodata[key]?.objectValue ?? [:]).filter { $0.value["name"]?.stringValue == name }
                let records = try #require(shard[key]?.mapValue, "\(file) lacks \(key)")
                #expect(records.mapValues { $0.jsonValue() } == expected)
                for record in records.values {
                    #expect(record["size"]?.intValue != nil)
                    #expect(record["depends"]?.arrayValue != nil)
                }
            }
        }
    }

    @Test("Decoding and re-encoding the real files keeps every value")
    func realFilesRoundTrip() throws {
        for file in ["repodata_shards.msgpack", Self.zlibShard + ".msgpack", Self.libgccShard + ".msgpack"] {
            let raw = try Data(contentsOf: Self.shardFixtures.appendingPathComponent(file))
            let value = try MessagePackReader.decode(raw)
            let encoded = value.encoded()
            #expect(try MessagePackReader.decode(encoded) == value)
            // Only key order may differ from conda-index's bytes (Python keeps insertion order, we sort).
            #expect(encoded.count == raw.count)
        }
    }

    @Test("A whole real repodata.json (r linux-64, 4211 records) survives JSON → MessagePack → JSON")
    func repodataRoundTrip() throws {
        let json = try JSONValue.parse(try Data(contentsOf: Fixtures.repodata("r_linux-64.json")))
        #expect(json["packages"]?.objectValue?.count == 4211)
        var writer = MessagePackWriter()
        writer.write(json)
        #expect(writer.bytes == MessagePackValue(json).encoded())
        let decoded = try MessagePackReader.decode(writer.bytes)
        #expect(decoded.jsonValue() == json)
        #expect(decoded == MessagePackValue(json))
    }

    // MARK: Encodings (expected bytes from the MessagePack specification)

    @Test("Integers use the smallest encoding")
    func integers() throws {
        let cases: [(Int64, [UInt8])] = [
            (0, [0x00]), (127, [0x7F]), (128, [0xCC, 0x80]), (255, [0xCC, 0xFF]), (256, [0xCD, 0x01, 0x00]),
            (65_535, [0xCD, 0xFF, 0xFF]), (65_536, [0xCE, 0x00, 0x01, 0x00, 0x00]),
            (4_294_967_296, [0xCF, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00]),
            (-1, [0xFF]), (-32, [0xE0]), (-33, [0xD0, 0xDF]), (-128, [0xD0, 0x80]), (-129, [0xD1, 0xFF, 0x7F]),
            (-32_769, [0xD2, 0xFF, 0xFF, 0x7F, 0xFF]),
            (Int64.min, [0xD3, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]),
            // A conda timestamp in milliseconds.
            (1_542_814_864_621, [0xCF, 0x00, 0x00, 0x01, 0x67, 0x36, 0xEE, 0x94, 0xED]),
        ]
        for (value, expected) in cases {
            let bytes = Self.encode { $0.writeInt(value) }
            #expect(bytes == expected, "\(value)")
            #expect(try MessagePackReader.decode(bytes) == .int(value))
        }
        let big = Self.encode { $0.writeUInt(UInt64.max) }
        #expect(big == [0xCF] + [UInt8](repeating: 0xFF, count: 8))
        #expect(try MessagePackReader.decode(big) == .uint(UInt64.max))
    }

    @Test("Strings, binaries, arrays and maps switch to the wider header at the right length")
    func lengthBoundaries() throws {
        for (count, header) in [
            (0, [0xA0]), (31, [0xBF]), (32, [0xD9, 0x20]), (255, [0xD9, 0xFF]), (256, [0xDA, 0x01, 0x00]),
            (65_536, [0xDB, 0x00, 0x01, 0x00, 0x00]),
        ] as [(Int, [UInt8])] {
            let string = String(repeating: "a", count: count)
            let bytes = Self.encode { $0.writeString(string) }
            #expect(Array(bytes.prefix(header.count)) == header && bytes.count == header.count + count, "str \(count)")
            #expect(try MessagePackReader.decode(bytes) == .string(string))
        }
        for (count, header) in [
            (0, [0xC4, 0x00]), (32, [0xC4, 0x20]), (256, [0xC5, 0x01, 0x00]), (65_536, [0xC6, 0x00, 0x01, 0x00, 0x00]),
        ] as [(Int, [UInt8])] {
            let data = [UInt8](repeating: 0xAB, count: count)
            let bytes = Self.encode { $0.writeBinary(data) }
            #expect(Array(bytes.prefix(header.count)) == header && bytes.count == header.count + count, "bin \(count)")
            #expect(try MessagePackReader.decode(bytes) == .binary(data))
        }
        for (count, header) in [
            (0, [0x90]), (15, [0x9F]), (16, [0xDC, 0x00, 0x10]), (65_536, [0xDD, 0x00, 0x01, 0x00, 0x00]),
        ] as [(Int, [UInt8])] {
            let array = MessagePackValue.array(Array(repeating: .null, count: count))
            let bytes = array.encoded()
            #expect(
                Array(bytes.prefix(header.count)) == header && bytes.count == header.count + count, "array \(count)")
            #expect(try MessagePackReader.decode(bytes) == array)
        }
        for (count, header) in [(0, [0x80]), (15, [0x8F]), (16, [0xDE, 0x00, 0x10])] as [(Int, [UInt8])] {
            var map: [String: MessagePackValue] = [:]
            for index in 0..<count { map["k\(index)"] = .bool(index % 2 == 0) }
            let bytes = MessagePackValue.map(map).encoded()
            #expect(Array(bytes.prefix(header.count)) == header, "map \(count)")
            #expect(try MessagePackReader.decode(bytes) == .map(map))
        }
    }

    @Test("Scalars: nil, booleans, float64 (float32 is read and widened)")
    func scalars() throws {
        #expect(MessagePackValue.null.encoded() == [0xC0])
        #expect(MessagePackValue.bool(false).encoded() == [0xC2])
        #expect(MessagePackValue.bool(true).encoded() == [0xC3])
        #expect(MessagePackValue.double(1.5).encoded() == [0xCB, 0x3F, 0xF8, 0, 0, 0, 0, 0, 0])
        #expect(try MessagePackReader.decode([0xCA, 0x3F, 0xC0, 0x00, 0x00]) == .double(1.5))
        #expect(try MessagePackReader.decode([0xCB, 0x3F, 0xF8, 0, 0, 0, 0, 0, 0]) == .double(1.5))
        // A timestamp extension (type -1, 4 bytes) survives.
        let ext: [UInt8] = [0xD6, 0xFF, 0x00, 0x00, 0x00, 0x01]
        #expect(try MessagePackReader.decode(ext) == .extension(type: -1, data: [0, 0, 0, 1]))
        #expect(try MessagePackReader.decode(ext).encoded() == ext)
    }

    @Test("Map keys are written sorted by UTF-8 bytes, whatever the insertion order")
    func sortedKeys() throws {
        let keys = ["packages.conda", "packages", "info", "Zeta", "é", "a", "ab"]
        var forward: [String: MessagePackValue] = [:]
        for (index, key) in keys.enumerated() { forward[key] = .int(Int64(index)) }
        var backward: [String: MessagePackValue] = [:]
        for (index, key) in keys.enumerated().reversed() { backward[key] = .int(Int64(index)) }
        let bytes = MessagePackValue.map(forward).encoded()
        #expect(bytes == MessagePackValue.map(backward).encoded())
        // Read the keys back in written order.
        var reader = MessagePackReaderKeys(bytes)
        #expect(try reader.keys() == ["Zeta", "a", "ab", "info", "packages", "packages.conda", "é"])
    }

    @Test("JSON values convert to MessagePack and back, binary as hex")
    func jsonConversion() throws {
        let json: JSONValue = .object([
            "a": .array([.int(1), .double(2.5), .string("x"), .null, .bool(true)]), "b": .object(["c": .int(-7)]),
        ])
        let value = MessagePackValue(json)
        #expect(value.jsonValue() == json)
        #expect(MessagePackValue.binary([0x00, 0xAB, 0xFF]).jsonValue() == .string("00abff"))
        #expect(HexCoding.decode("00abFF") == [0x00, 0xAB, 0xFF])
        #expect(HexCoding.decode("abc") == nil)
        #expect(HexCoding.decode("zz") == nil)
    }

    // MARK: Hostile input

    @Test("Malformed input fails with invalidInput instead of crashing or allocating")
    func malformed() throws {
        let cases: [(String, [UInt8])] = [
            ("empty", []),
            ("reserved 0xC1", [0xC1]),
            ("truncated uint32", [0xCE, 0x00, 0x01]),
            ("truncated string", [0xA5, 0x61, 0x62]),
            ("huge array length", [0xDD, 0xFF, 0xFF, 0xFF, 0xFF]),
            ("huge map length", [0xDF, 0xFF, 0xFF, 0xFF, 0xFF, 0xC0]),
            ("huge binary length", [0xC6, 0xFF, 0xFF, 0xFF, 0xFF, 0x00]),
            ("trailing bytes", [0xC0, 0xC0]),
            ("invalid UTF-8", [0xA2, 0xC3, 0x28]),
            ("integer map key", [0x81, 0x01, 0x02]),
            ("deep nesting", [UInt8](repeating: 0x91, count: 10_000) + [0xC0]),
        ]
        for (label, bytes) in cases {
            do {
                _ = try MessagePackReader.decode(bytes)
                Issue.record("\(label) must not decode")
            } catch {
                #expect(error.code == .invalidInput, "\(label)")
            }
        }
        // A binary key that is UTF-8 is read as a string key (libmamba accepts these too).
        #expect(try MessagePackReader.decode([0x81, 0xC4, 0x01, 0x61, 0x01]) == .map(["a": .int(1)]))
    }

    static func sha256(_ data: Data) -> [UInt8] {
        Array(SHA256.hash(data: data))
    }
}

/// Reads the keys of a top-level map in the order they were written (the value model itself is unordered).
struct MessagePackReaderKeys {
    let bytes: [UInt8]
    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func keys() throws -> [String] {
        guard let first = bytes.first, first & 0xF0 == 0x80 else { return [] }
        var keys: [String] = []
        var offset = 1
        for _ in 0..<Int(first & 0x0F) {
            let header = bytes[offset]
            #expect(header & 0xE0 == 0xA0, "key must be a fixstr")
            let count = Int(header & 0x1F)
            keys.append(String(decoding: bytes[offset + 1..<offset + 1 + count], as: UTF8.self))
            offset += 1 + count
            // Each value in the test is a positive fixint: one byte.
            offset += 1
        }
        return keys
    }
}
