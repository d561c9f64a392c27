import Foundation
import SluiceTesting
import Testing

@testable import SluiceCore

@Suite("JSONValue parsing and writing")
struct JSONValueTests {
    private func parse(_ text: String) throws -> JSONValue {
        try JSONValue.parse(Array(text.utf8))
    }

    private func compact(_ value: JSONValue) -> String {
        String(decoding: value.compactJSON(), as: UTF8.self)
    }

    @Test func parsesScalarsAndContainers() throws {
        #expect(try parse("null") == .null)
        #expect(try parse(" true ") == .bool(true))
        #expect(try parse("false") == .bool(false))
        #expect(try parse("\"x\"") == .string("x"))
        #expect(try parse("[1, 2.5, \"a\", null]") == .array([.int(1), .double(2.5), .string("a"), .null]))
        #expect(
            try parse("{\"a\": {\"b\": []}, \"c\": {}}")
                == .object(["a": .object(["b": .array([])]), "c": .object([:])]))
        // Duplicate keys: the last one wins, as in Python.
        #expect(try parse("{\"a\":1,\"a\":2}") == .object(["a": .int(2)]))
        // A UTF-8 byte order mark is skipped.
        #expect(try JSONValue.parse([0xEF, 0xBB, 0xBF] + Array("1".utf8)) == .int(1))
    }

    @Test func integersStayExactAndOthersBecomeDoubles() throws {
        #expect(try parse("9223372036854775807") == .int(Int64.max))
        #expect(try parse("-9223372036854775808") == .int(Int64.min))
        #expect(try parse("9223372036854775808") == .double(9_223_372_036_854_775_808))
        #expect(try parse("-0") == .int(0))
        #expect(try parse("1.0") == .double(1))
        #expect(try parse("1e3") == .double(1000))
        #expect(try parse("1E-2") == .double(0.01))
        #expect(try parse("1542814864621") == .int(1_542_814_864_621))
    }

    @Test func decodesEveryEscapeIncludingSurrogatePairs() throws {
        let value = try parse(#""\"\\\/\b\f\n\r\t\u0041\u00e9\u20ac\ud83d\ude00""#)
        #expect(value == .string("\"\\/\u{8}\u{C}\n\r\tAé€😀"))
        #expect(try parse("\"héllo ✓\"") == .string("héllo ✓"))
    }

    @Test(arguments: [
        ("", 0), ("{", 1), ("[1,]", 3), ("{\"a\" 1}", 5), ("01", 0), ("1.", 0), ("-", 0), ("tru", 0),
        ("\"abc", 0), ("\"a\u{01}\"", 2), ("\"\\x\"", 1), ("\"\\ud83d\"", 1), ("\"\\ude00\"", 1),
        ("[1] x", 4), ("{\"a\":1,}", 7), ("nul", 0), ("1e", 0), ("[1 2]", 3),
    ])
    func rejectsMalformedInputWithOffset(text: String, offset: Int) {
        do {
            _ = try JSONValue.parse(Array(text.utf8))
            Issue.record("'\(text)' should not parse")
        } catch {
            #expect(error.code == .invalidInput)
            #expect(error.message.contains("byte offset \(offset):"), "\(error.message)")
        }
    }

    @Test func rejectsInvalidUTF8() {
        #expect(throws: SluiceError.self) { try JSONValue.parse([0x22, 0xC3, 0x28, 0x22]) }
    }

    @Test func enforcesTheDepthLimit() throws {
        let ok = String(repeating: "[", count: 512) + String(repeating: "]", count: 512)
        #expect(throws: Never.self) { try JSONValue.parse(Array(ok.utf8)) }
        let deep = String(repeating: "[", count: 513) + String(repeating: "]", count: 513)
        do {
            _ = try JSONValue.parse(Array(deep.utf8))
            Issue.record("513 levels should be rejected")
        } catch {
            #expect(error.message.contains("nesting deeper than 512"))
        }
    }

    @Test func writesLikePythonJSONDumpsWithSortedKeys() throws {
        // Expected bytes are what Python's json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        // prints for the same value.
        let value: JSONValue = .object([
            "s": .string("a\u{01}\"\\/é\n\r\t\u{8}\u{C}\u{1F}\u{7F}😀"),
            "d": .array([
                .double(1.0), .double(1e-05), .double(1e16), .double(1.5e300), .double(0.1), .double(-0.0),
                .double(123456789.123), .double(1e22), .double(2.5e-7),
            ]),
            "k": .object(["b": .int(1), "B": .int(2), "_": .int(3), "a": .int(4), "é": .int(5), "aa": .int(6)]),
        ])
        let expected =
            #"{"d":[1.0,1e-05,1e+16,1.5e+300,0.1,-0.0,123456789.123,1e+22,2.5e-07],"k":{"B":2,"_":3,"a":4,"aa":6,"b":1,"é":5},"s":"a\u0001\"\\/é\n\r\t\b\f\u001f"#
            + "\u{7F}😀\"}"
        #expect(compact(value) == expected)
        #expect(compact(.int(-9_223_372_036_854_775_808)) == "-9223372036854775808")
        #expect(compact(.double(.nan)) == "null")
        #expect(compact(.array([])) == "[]")
        #expect(compact(.object([:])) == "{}")
    }

    @Test func writeAppendsToExistingBytes() {
        var output = Array("x=".utf8)
        JSONValue.bool(true).write(into: &output)
        #expect(String(decoding: output, as: UTF8.self) == "x=true")
    }

    /// Two real files that were written by a sorted-keys compact serialiser: we must reproduce them byte for byte.
    @Test(arguments: [
        "for-packages/pixi_dummy_channel_1_linux-64.json",
        "for-packages/pixi_multiple_versions_channel_1_linux-64.json",
    ])
    func reproducesRealCompactRepodataByteForByte(file: String) throws {
        let bytes = try Data(contentsOf: Fixtures.repodata(file))
        let value = try JSONValue.parse(bytes)
        #expect(value.compactJSON() == Array(bytes))
    }

    /// Every repodata fixture survives parse → write → parse unchanged.
    @Test func roundTripsEveryRepodataFixture() throws {
        let folder = Fixtures.root.appendingPathComponent("repodata")
        var files: [URL] = []
        for name in try FileManager.default.contentsOfDirectory(atPath: folder.path) where name.hasSuffix(".json") {
            files.append(folder.appendingPathComponent(name))
        }
        let subfolder = folder.appendingPathComponent("for-packages")
        for name in try FileManager.default.contentsOfDirectory(atPath: subfolder.path) where name.hasSuffix(".json") {
            files.append(subfolder.appendingPathComponent(name))
        }
        #expect(files.count >= 20)
        for file in files {
            let value = try JSONValue.parse(try Data(contentsOf: file))
            let written = value.compactJSON()
            let reparsed = try JSONValue.parse(written)
            #expect(reparsed == value, "\(file.lastPathComponent)")
            #expect(reparsed.compactJSON() == written, "\(file.lastPathComponent)")
        }
    }

    @Test func parsesTheLargestFixtureWithExactCounts() throws {
        let value = try JSONValue.parse(try Data(contentsOf: Fixtures.repodata("r_linux-64.json")))
        let packages = try #require(value["packages"]?.objectValue)
        #expect(packages.count == 4211)
        // Timestamps and sizes are integers, not doubles.
        for record in packages.values {
            if let size = record["size"] {
                guard case .int = size else {
                    Issue.record("size is not an integer: \(size)")
                    break
                }
            }
        }
    }

    // MARK: RepodataStream

    private func stream(
        _ bytes: [UInt8], skipping: Set<String> = []
    ) throws -> (header: RepodataStream.Header, records: [(RepodataStream.Section, String, [String: JSONValue])]) {
        var records: [(RepodataStream.Section, String, [String: JSONValue])] = []
        let header = try bytes.withUnsafeBytes { (buffer) throws -> RepodataStream.Header in
            try RepodataStream.parse(buffer, skippingKeys: skipping) { section, filename, fields in
                records.append((section, filename, fields))
            }
        }
        return (header, records)
    }

    /// Streaming gives every record of every repodata fixture exactly as the tree parser does.
    @Test func streamsEveryRepodataFixtureLikeTheTreeParser() throws {
        let folder = Fixtures.root.appendingPathComponent("repodata")
        var files: [URL] = []
        for name in try FileManager.default.contentsOfDirectory(atPath: folder.path) where name.hasSuffix(".json") {
            files.append(folder.appendingPathComponent(name))
        }
        #expect(files.count >= 10)
        for file in files {
            let bytes = Array(try Data(contentsOf: file))
            let tree = try JSONValue.parse(bytes)
            let (header, records) = try stream(bytes, skipping: ["url"])
            #expect(header.subdir == tree["info"]?["subdir"]?.stringValue, "\(file.lastPathComponent)")
            var expected: [String: [String: JSONValue]] = [:]
            for key in ["packages", "packages.conda"] {
                for (filename, value) in tree[key]?.objectValue ?? [:] {
                    guard var fields = value.objectValue else { continue }
                    fields["url"] = nil
                    expected[key + "/" + filename] = fields
                }
            }
            var streamed: [String: [String: JSONValue]] = [:]
            for (section, filename, fields) in records {
                streamed[(section == .packages ? "packages" : "packages.conda") + "/" + filename] = fields
            }
            #expect(streamed == expected, "\(file.lastPathComponent)")
            #expect(records.count == expected.count, "\(file.lastPathComponent)")
        }
    }

    @Test func streamingSkipsNonObjectsAndKeepsLastDuplicateKey() throws {
        let text = #"""
            {"repodata_version": 1, "packages": {"a-1-0.tar.bz2": {"name": "a", "name": "b", "url": "u"},
             "bad": 3, "c-1-0.tar.bz2": {}}, "info": {"subdir": "noarch"}, "packages.conda": {},
             "removed": ["x"]}
            """#
        let (header, records) = try stream(Array(text.utf8), skipping: ["url"])
        #expect(header.subdir == "noarch")
        #expect(records.map(\.1) == ["a-1-0.tar.bz2", "c-1-0.tar.bz2"])
        #expect(records.first?.2 == ["name": .string("b")])
        #expect(records.allSatisfy { $0.0 == .packages })
    }

    @Test(arguments: [
        "", "{", #"{"packages": {"a": {"x": 1,}}}"#, #"{"packages": {"a": {"x": tru}}}"#, #"{"info": {}} x"#,
        #"{"packages": {"a": {"x": "\ud800"}}}"#,
    ])
    func streamingRejectsWhatTheTreeParserRejects(text: String) {
        #expect(throws: SluiceError.self) { try JSONValue.parse(Array(text.utf8)) }
        #expect(throws: SluiceError.self) { try stream(Array(text.utf8)) }
    }
}
