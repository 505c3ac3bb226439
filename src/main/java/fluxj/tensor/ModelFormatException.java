package fluxj.tensor;

/** A weight, config or tokenizer file that cannot be used, with the file named and the problem stated. */
public class ModelFormatException extends RuntimeException {
    private final String file;

    public ModelFormatException(String file, String problem) {
        super(file + ": " + problem);
        this.file = file;
    }

    public ModelFormatException(String file, String problem, Throwable cause) {
        super(file + ": " + problem, cause);
        this.file = file;
    }

    public String file() { return file; }
}
