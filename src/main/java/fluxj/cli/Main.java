package fluxj.cli;

/** Entry point of the fluxj command line. */
public final class Main {
    private Main() {}

    public static void main(String[] args) {
        System.out.println("fluxj");
    }
}
