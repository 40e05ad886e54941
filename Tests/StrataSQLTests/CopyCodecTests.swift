import PropertyBased
import StrataSQL
import Testing

/// COPY's text and CSV formats: rows split from chunks of any size, escapes and NULLs,
/// and what the writer writes reads back the same.
@Suite struct CopyCodecTests {
    func read(_ text: String, _ format: CopyFormat = CopyFormat(), chunk: Int = 1 << 20) throws -> [[String?]] {
        var reader = CopyReader(format: format)
        var rows: [[String?]] = []
        let bytes = Array(text.utf8)
        var i = 0
        while i < bytes.count {
            rows += try reader.feed(bytes[i..<min(i + chunk, bytes.count)])
            i += chunk
        }
        return rows + (try reader.finish())
    }

    var csv: CopyFormat {
        var f = CopyFormat()
        f.csv = true
        f.delimiter = UInt8(ascii: ",")
        f.null = ""
        return f
    }

    @Test func textFieldsEscapesAndNulls() throws {
        let input = "1\tone\t\\N\n2\ta\\tb\\nc\\\\d\t\\x41\\101\n3\t\t\r\n\\.\nignored\tafter\tend\n"
        for chunk in [1, 2, 3, 7, 1 << 20] {
            #expect(try read(input, chunk: chunk) == [["1", "one", nil], ["2", "a\tb\nc\\d", "AA"], ["3", "", ""]], "chunk \(chunk)")
        }
        #expect(try read("no newline at the end") == [["no newline at the end"]])
        #expect(try read("") == [])
    }

    @Test func csvQuotesHeadersAndNulls() throws {
        var format = csv
        format.header = true
        let input = "id,name,note\n1,\"a, b\",\n2,\"say \"\"hi\"\"\",\"\"\n3,\"two\nlines\",x\n"
        for chunk in [1, 2, 5, 1 << 20] {
            #expect(
                try read(input, format, chunk: chunk) == [["1", "a, b", nil], ["2", "say \"hi\"", ""], ["3", "two\nlines", "x"]],
                "chunk \(chunk)")
        }
        #expect(throws: SQLError.self) { try read("1,\"open\n", csv) }
        var invalid = CopyReader(format: CopyFormat())
        #expect(throws: SQLError.self, "not UTF-8") { _ = try invalid.feed([0x61, 0xFF, 0x0A]) }
    }

    @Test func parsedOptions() throws {
        func copy(_ sql: String) throws -> CopyStatement {
            guard case .copy(let c) = try Parser.parseOne(sql) else { throw SQLError(SQLError.internalError, "not COPY") }
            return c
        }
        var c = try copy("COPY pgbench_accounts FROM STDIN WITH (FREEZE ON)")
        #expect(c.isFrom && c.target == .table("pgbench_accounts", columns: []) && !c.format.csv && c.format.delimiter == 9)
        c = try copy("COPY t (a, b) TO STDOUT WITH (FORMAT csv, HEADER true, DELIMITER ';', NULL 'nil')")
        #expect(!c.isFrom && c.target == .table("t", columns: ["a", "b"]) && c.format.csv && c.format.header)
        #expect(c.format.delimiter == UInt8(ascii: ";") && c.format.null == "nil")
        c = try copy("COPY (SELECT 1) TO STDOUT CSV HEADER")
        #expect(c.format.csv && c.format.header && c.format.delimiter == UInt8(ascii: ",") && c.format.null == "")
        for bad in ["COPY t FROM '/etc/passwd'", "COPY t TO STDIN", "COPY (SELECT 1) FROM STDIN", "COPY t FROM STDIN (FORMAT binary)",
                    "COPY t FROM STDIN (DELIMITER 'ab')", "COPY t FROM STDIN (HEADER)", "COPY t FROM STDIN (BOGUS 1)"] {
            #expect(throws: SQLError.self, "\(bad)") { try copy(bad) }
        }
    }

    /// Whatever the writer writes, the reader reads back as the same fields.
    @Test func writtenRowsReadBack() async {
        // Fields made of pieces that need escaping or quoting; the last index stands for NULL.
        let pieces = ["", "a", "Zz9", "\\N", "\\.", "\t", "\n", "\r", "\\", ",", "\"", "é", " "]
        let field = Gen.int(in: 0...pieces.count).array(of: 1...3).map { picks -> String? in
            picks[0] == pieces.count ? nil : picks.map { pieces[min($0, pieces.count - 1)] }.joined()
        }
        await propertyCheck(input: field.array(of: 1...5).array(of: 0...5), Gen.bool) { rows, useCSV in
            let format = useCSV ? csv : CopyFormat()
            let writer = CopyWriter(format: format)
            var text: [UInt8] = []
            for row in rows { text += writer.row(row.map { $0.map(SQLValue.text) ?? .null }) }
            var reader = CopyReader(format: format)
            let back = try reader.feed(text) + reader.finish()
            #expect(back == rows)
        }
    }
}
