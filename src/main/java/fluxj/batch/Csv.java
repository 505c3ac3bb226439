package fluxj.batch;

import java.util.ArrayList;
import java.util.List;

/**
 * Comma-separated values as RFC 4180 defines them: fields separated by commas, records by CRLF (a bare LF is
 * accepted too), a field in double quotes may hold commas, line breaks and doubled quotes ({@code ""}). A quote
 * inside an unquoted field, text after a closing quote and an unterminated quote are errors naming the line.
 */
final class Csv {
    /** One record and the 1-based line it starts on. */
    record Record(int line, List<String> fields) {}

    /** Thrown for text that is not RFC 4180 CSV; the message names the line. */
    static final class CsvException extends IllegalArgumentException {
        private static final long serialVersionUID = 1L;
        final int line;

        CsvException(int line, String message) {
            super(message);
            this.line = line;
        }
    }

    private Csv() {}

    /** Every record of {@code text}; lines holding nothing at all (not even a comma) are skipped. */
    static List<Record> parse(String text) {
        List<Record> records = new ArrayList<>();
        List<String> fields = new ArrayList<>();
        StringBuilder field = new StringBuilder();
        int line = 1, recordLine = 1, i = 0, n = text.length();
        boolean quoted = false, afterQuote = false, any = false;
        while (i < n) {
            char c = text.charAt(i++);
            if (quoted) {
                if (c == '"') {
                    if (i < n && text.charAt(i) == '"') {
                        field.append('"');
                        i++;
                    } else {
                        quoted = false;
                        afterQuote = true;
                    }
                } else {
                    if (c == '\n') line++;
                    field.append(c);
                }
                continue;
            }
            switch (c) {
                case ',' -> {
                    fields.add(field.toString());
                    field.setLength(0);
                    afterQuote = false;
                    any = true;
                }
                case '\r', '\n' -> {
                    if (c == '\r' && i < n && text.charAt(i) == '\n') i++;
                    if (any || !field.isEmpty() || afterQuote) {
                        fields.add(field.toString());
                        records.add(new Record(recordLine, List.copyOf(fields)));
                    }
                    fields.clear();
                    field.setLength(0);
                    afterQuote = any = false;
                    recordLine = ++line;
                }
                case '"' -> {
                    if (!field.isEmpty() || afterQuote) throw new CsvException(line, "a double quote inside an unquoted field (quote the whole field and double the quote: \"a \"\"b\"\"\")");
                    quoted = true;
                    any = true;
                }
                default -> {
                    if (afterQuote) throw new CsvException(line, "text after the closing quote of a field");
                    field.append(c);
                }
            }
        }
        if (quoted) throw new CsvException(recordLine, "a quoted field is not closed before the end of the file");
        if (any || !field.isEmpty() || afterQuote) {
            fields.add(field.toString());
            records.add(new Record(recordLine, List.copyOf(fields)));
        }
        return records;
    }
}
